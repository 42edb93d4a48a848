package topology

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// KubeProxyHealthzPort is where kube-proxy serves /healthz (and the
// health-check node ports of externalTrafficPolicy: Local Services beside
// it) in each node's namespace.
const KubeProxyHealthzPort = 10256

// KubeProxyOptions say how to run kube-proxy.
type KubeProxyOptions struct {
	Bin        string // the kube-proxy binary (hack/build-kube-binaries.sh)
	Dir        string // its log goes to Dir/logs/kube-proxy-NODE.log
	Kubeconfig string // WriteKubeProxyKubeconfig's
	// Mode is the proxy mode (empty: iptables, kube-proxy's default). A
	// kube-proxy started in one mode removes the rules of the others
	// (cmd/kube-proxy/app/server_linux.go, platformCleanup), so a node's
	// kube-proxy can be restarted in another mode.
	Mode string
	// ClusterCIDR is the pods' range (empty: 10.64.0.0/16).
	ClusterCIDR string
}

// KubeProxy is a kube-proxy process in a node's namespace.
type KubeProxy struct {
	Node *Node
	proc *cluster.Process
}

// StartKubeProxy runs the real kube-proxy in node n's namespace (through
// `ip netns exec`, which also gives it the namespace's own /sys) as Node
// n.Name, with the node's internal address as its primary IP. It serves
// NodePorts on the node's VPC address only (not the management link), and
// leaves the conntrack table's global limits alone, which a network
// namespace may not change.
func StartKubeProxy(ctx context.Context, n *Node, o KubeProxyOptions) (*KubeProxy, error) {
	if o.Mode == "" {
		o.Mode = "iptables"
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = "10.64.0.0/16"
	}
	args := []string{"netns", "exec", n.NS, o.Bin,
		"--kubeconfig=" + o.Kubeconfig,
		"--hostname-override=" + n.Name,
		"--proxy-mode=" + o.Mode,
		"--cluster-cidr=" + o.ClusterCIDR,
		"--bind-address=" + n.InternalIP.String(),
		"--nodeport-addresses=" + netip.PrefixFrom(n.InternalIP, 32).String(),
		fmt.Sprintf("--healthz-bind-address=0.0.0.0:%d", KubeProxyHealthzPort),
		"--metrics-bind-address=127.0.0.1:10249",
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0",
		"--iptables-min-sync-period=0",
		"--v=2",
	}
	// One log per mode: a node's kube-proxy may be restarted in another.
	name := "kube-proxy-" + n.Name
	if o.Mode != "iptables" {
		name += "-" + o.Mode
	}
	proc, err := cluster.StartProcess(o.Dir, name, "ip", args, nil)
	if err != nil {
		return nil, fmt.Errorf("start kube-proxy on %s: %w", n.Name, err)
	}
	return &KubeProxy{Node: n, proc: proc}, nil
}

// WaitSynced waits until kube-proxy's /healthz answers 200, which it does
// once it has programmed the Services and EndpointSlices it read.
func (k *KubeProxy) WaitSynced(ctx context.Context) error {
	return k.proc.WaitReady(ctx, k.Healthz)
}

// Healthz asks kube-proxy's /healthz from inside its node's namespace.
func (k *KubeProxy) Healthz() error {
	resp, err := HTTPClient(k.Node.NS, netip.Addr{}, 2*time.Second).Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", KubeProxyHealthzPort))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("kube-proxy on %s: /healthz %s: %s", k.Node.Name, resp.Status, body)
	}
	return nil
}

// Running reports whether kube-proxy has not exited.
func (k *KubeProxy) Running() bool { return k.proc.Running() }

// LogPath is kube-proxy's log file.
func (k *KubeProxy) LogPath() string { return k.proc.LogPath() }

// Stop stops kube-proxy. Its rules stay in the namespace, as they do on a
// node whose kube-proxy died.
func (k *KubeProxy) Stop() { k.proc.Stop(5 * time.Second) }

// WriteKubeProxyKubeconfig gives kube-proxy an identity as kubeadm does (the
// ServiceAccount kube-system/kube-proxy bound to system:node-proxier) and
// writes a kubeconfig with its token to dir/kube-proxy.kubeconfig.
func WriteKubeProxyKubeconfig(ctx context.Context, cp *cluster.ControlPlane, dir string) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system"}}
	if _, err := cp.Admin.CoreV1().ServiceAccounts("kube-system").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create service account kube-system/kube-proxy: %w", err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "lab:kube-proxy"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:node-proxier"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "kube-proxy", Namespace: "kube-system"}},
	}
	if _, err := cp.Admin.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create cluster role binding lab:kube-proxy: %w", err)
	}
	token, err := cp.ServiceAccountToken(ctx, "kube-system", "kube-proxy")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kube-proxy.kubeconfig")
	return path, cp.WriteKubeconfig(path, "kube-proxy", token)
}

// ProgramsRefusal says whether kube-proxy, in mode, has programmed in
// namespace ns the rule that refuses new flows to load balancer address
// ip of a Service without endpoints whose source ranges leave the client
// out: the iptables mode's REJECT in the filter table, or the nftables
// mode's element of the firewall-ips map.
func ProgramsRefusal(ns, mode string, ip netip.Addr) (bool, error) {
	var args []string
	switch mode {
	case "iptables":
		args = []string{"iptables-save", "-t", "filter"}
	case "nftables":
		args = []string{"nft", "list", "map", "ip", "kube-proxy", "firewall-ips"}
	default:
		return false, fmt.Errorf("no refusal rule known for kube-proxy's %s mode", mode)
	}
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("%s in %s: %w: %s", strings.Join(args, " "), ns, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case mode == "iptables" && strings.Contains(line, "-d "+ip.String()+"/32") && strings.Contains(line, "-j REJECT"):
			return true, nil
		case mode == "nftables" && strings.Contains(line, ip.String()+" . tcp"):
			return true, nil
		}
	}
	return false, fmt.Errorf("no rule for %s yet", ip)
}

package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// AdminToken is the static bearer token of the cluster admin (system:masters).
const AdminToken = "e2e-admin-token"

// maxNodes is how many node identities the token file holds: node-1..node-64.
const maxNodes = 64

// NodeToken is the bearer token of node NAME's kubelet identity
// (system:node:NAME in group system:nodes, so the Node authorizer applies).
func NodeToken(name string) string { return "e2e-kubelet-" + name }

// The bearer tokens of kube-controller-manager and kube-scheduler: the users
// system:kube-controller-manager and system:kube-scheduler, which the API
// server's bootstrap RBAC policy binds to their roles, as kubeadm's
// controller-manager.conf and scheduler.conf name them.
const (
	ControllerManagerToken = "e2e-kube-controller-manager"
	SchedulerToken         = "e2e-kube-scheduler"
)

// ControlPlane is etcd and kube-apiserver.
type ControlPlane struct {
	Dir       string
	Host      string // https://BIND-ADDRESS:PORT
	CAFile    string
	etcd      *process
	apiserver *process
	Admin     kubernetes.Interface
	AdminREST *rest.Config
	etcdPort  int
	apiPort   int
	pki       *pki
	// nodeIPs holds the instance IPs hollow kubelets were given.
	nodeIPs *hostAddresses
}

// ControlPlaneOptions choose binaries and ports (0: any free port).
type ControlPlaneOptions struct {
	Dir                             string
	BinDir                          string
	EtcdPort, EtcdPeerPort, APIPort int
	// BindAddress is where kube-apiserver listens and what it advertises
	// (empty: 127.0.0.1). The packet lab sets its management bridge's
	// address, so that processes in the lab's network namespaces reach it;
	// the address must exist when the control plane starts. etcd stays on
	// 127.0.0.1.
	BindAddress string
}

// StartControlPlane starts etcd and kube-apiserver (RBAC, Node authorizer,
// NodeRestriction) and waits until the API server is ready. Data under Dir
// is reused, so a second start resumes the cluster.
func StartControlPlane(ctx context.Context, o ControlPlaneOptions) (*ControlPlane, error) {
	var err error
	for _, p := range []*int{&o.EtcdPort, &o.EtcdPeerPort, &o.APIPort} {
		if *p == 0 {
			if *p, err = FreePort(); err != nil {
				return nil, err
			}
		}
	}
	if o.BindAddress == "" {
		o.BindAddress = "127.0.0.1"
	}
	bindIP := net.ParseIP(o.BindAddress)
	if bindIP == nil || bindIP.To4() == nil {
		return nil, fmt.Errorf("control plane bind address %q: not an IPv4 address", o.BindAddress)
	}
	pk, err := ensurePKI(o.Dir, bindIP)
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{Dir: o.Dir, CAFile: pk.CACert, etcdPort: o.EtcdPort, apiPort: o.APIPort, pki: pk,
		Host: fmt.Sprintf("https://%s:%d", o.BindAddress, o.APIPort), nodeIPs: &hostAddresses{link: fmt.Sprintf("cpv-e2e-%d", o.APIPort)}}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", o.EtcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", o.EtcdPeerPort)
	cp.etcd, err = startProcess(o.Dir, "etcd", filepath.Join(o.BinDir, "etcd"), []string{
		"--name=e2e", "--data-dir=" + filepath.Join(o.Dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=e2e=" + peerURL, "--unsafe-no-fsync", "--log-level=warn",
	}, nil)
	if err != nil {
		return nil, err
	}
	tokens, err := writeTokenFile(o.Dir)
	if err != nil {
		cp.Stop()
		return nil, err
	}
	cp.apiserver, err = startProcess(o.Dir, "kube-apiserver", filepath.Join(o.BinDir, "kube-apiserver"), []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + o.BindAddress, fmt.Sprintf("--secure-port=%d", o.APIPort), "--advertise-address=" + o.BindAddress,
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + pk.ServingCert, "--tls-private-key-file=" + pk.ServingKey, "--client-ca-file=" + pk.CACert,
		"--cert-dir=" + filepath.Join(o.Dir, "apiserver-certs"),
		"--authorization-mode=Node,RBAC", "--token-auth-file=" + tokens,
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=" + pk.SAPub,
		"--service-account-signing-key-file=" + pk.SAKey,
		"--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
		"--profiling=false", "--v=1",
	}, nil)
	if err != nil {
		cp.Stop()
		return nil, err
	}
	cp.AdminREST = cp.RESTConfig(AdminToken)
	cp.Admin, err = kubernetes.NewForConfig(cp.AdminREST)
	if err != nil {
		cp.Stop()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	err = waitFor(wctx, cp.apiserver, "kube-apiserver", func() error {
		if !cp.etcd.running() {
			return cp.etcd.exitError()
		}
		body, err := cp.Admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(wctx)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(body)) != "ok" {
			return fmt.Errorf("readyz: %s", body)
		}
		return nil
	})
	if err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

func writeTokenFile(dir string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s,admin,admin,\"system:masters\"\n", AdminToken)
	fmt.Fprintf(&b, "%s,system:kube-controller-manager,kube-controller-manager\n", ControllerManagerToken)
	fmt.Fprintf(&b, "%s,system:kube-scheduler,kube-scheduler\n", SchedulerToken)
	for i := 1; i <= maxNodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		fmt.Fprintf(&b, "%s,system:node:%s,kubelet-%s,\"system:nodes\"\n", NodeToken(name), name, name)
	}
	path := filepath.Join(dir, "pki", "tokens.csv")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// RESTConfig is a client config for the API server with a bearer token.
func (cp *ControlPlane) RESTConfig(token string) *rest.Config {
	return &rest.Config{Host: cp.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: cp.CAFile},
		QPS: 100, Burst: 200}
}

// WriteKubeconfig writes a kubeconfig for a token to path.
func (cp *ControlPlane) WriteKubeconfig(path, user, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: cp.Host, CertificateAuthority: cp.CAFile}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}

// Stop stops the API server, then etcd, and removes the host addresses of
// hollow kubelets.
func (cp *ControlPlane) Stop() {
	cp.nodeIPs.remove()
	if cp.apiserver != nil {
		cp.apiserver.stop(10 * time.Second)
	}
	if cp.etcd != nil {
		cp.etcd.stop(10 * time.Second)
	}
}

package cluster

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HollowNode is a running hack/tools/hollow-node: the real kubelet code with
// a fake container runtime, started as a kubelet of a cluster with an
// external cloud provider is (--cloud-provider=external, --node-ip, no
// --provider-id), with node NAME's own identity.
type HollowNode struct {
	Name   string
	NodeIP string
	proc   *process
}

// HollowNodeOptions are what a hollow kubelet is started with.
type HollowNodeOptions struct {
	BinDir string
	// Name is the instance's name, which is the Node's (node-1..node-64: the
	// identities the API server's token file holds).
	Name string
	// NodeIP is the instance's internal IP (its networkInterfaces[0].networkIP).
	NodeIP string
	// StatusUpdateFrequency is how often the kubelet computes node status
	// (default 10s, as the kubelet's); it posts it when it changed.
	StatusUpdateFrequency time.Duration
	// LeaseDuration is the node Lease's duration (default 40s, as the
	// kubelet's); the kubelet renews it every quarter of that, which is the
	// heartbeat the node lifecycle controller watches.
	LeaseDuration time.Duration
}

// StartHollowNode runs a hollow kubelet and waits until it has registered
// its Node. The kubelet checks that --node-ip is an address of a host
// interface (validateNodeIP in pkg/kubelet/kubelet_node_status.go), so the
// instance IP is added to a link of this control plane's own, removed by
// Stop; that needs CAP_NET_ADMIN.
func (cp *ControlPlane) StartHollowNode(ctx context.Context, o HollowNodeOptions) (*HollowNode, error) {
	if o.StatusUpdateFrequency == 0 {
		o.StatusUpdateFrequency = 10 * time.Second
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = 40 * time.Second
	}
	if err := cp.nodeIPs.add(o.NodeIP); err != nil {
		return nil, fmt.Errorf("hollow node %s: %w", o.Name, err)
	}
	kubeconfig := filepath.Join(cp.Dir, "kubelet-"+o.Name+".kubeconfig")
	if err := cp.WriteKubeconfig(kubeconfig, "system:node:"+o.Name, NodeToken(o.Name)); err != nil {
		return nil, fmt.Errorf("write kubeconfig of node %s: %w", o.Name, err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	proc, err := startProcess(cp.Dir, "hollow-node-"+o.Name, filepath.Join(o.BinDir, "hollow-node"), []string{
		"--kubeconfig=" + kubeconfig, "--cloud-provider=external",
		"--hostname-override=" + o.Name, "--node-ip=" + o.NodeIP,
		"--root-dir=" + filepath.Join(cp.Dir, "kubelet-"+o.Name), fmt.Sprintf("--port=%d", port),
		"--node-status-update-frequency=" + o.StatusUpdateFrequency.String(),
		fmt.Sprintf("--node-lease-duration-seconds=%d", int(o.LeaseDuration.Seconds())), "--v=2",
	}, nil)
	if err != nil {
		return nil, err
	}
	h := &HollowNode{Name: o.Name, NodeIP: o.NodeIP, proc: proc}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	err = waitFor(wctx, proc, "hollow-node-"+o.Name, func() error {
		_, err := cp.Admin.CoreV1().Nodes().Get(wctx, o.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("node %s not registered yet", o.Name)
		}
		return err
	})
	if err != nil {
		proc.stop(time.Second)
		return nil, err
	}
	return h, nil
}

// Stop stops the kubelet gracefully: it stops heartbeating, as a kubelet
// that is shut down does.
func (h *HollowNode) Stop() { h.proc.stop(10 * time.Second) }

// LogPath is the hollow kubelet's log file.
func (h *HollowNode) LogPath() string { return h.proc.logPath }

// PeakRSS is the hollow kubelet's peak resident memory so far, in bytes.
func (h *HollowNode) PeakRSS() (int64, error) { return peakRSS(h.proc.cmd.Process.Pid) }

// hostAddresses puts instance IPs on a link of their own (an ifb, or a dummy
// where the kernel has no ifb), never up, so that the kubelet finds its
// --node-ip among the host's addresses. The link is this control plane's
// alone, so removing it removes nothing another run added. The kernel adds
// a local route for each address even on a link that is down, so while the
// link exists this host answers the instance IPs itself.
type hostAddresses struct {
	link string
	mu   sync.Mutex
	ips  map[string]bool // nil until the link is created
}

func (h *hostAddresses) add(ip string) error {
	if net.ParseIP(ip) == nil {
		return fmt.Errorf("node IP %q: not an IP address", ip)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ips[ip] {
		return nil
	}
	if h.ips == nil {
		err := ipCommand("link", "add", h.link, "type", "ifb")
		if err != nil {
			err = ipCommand("link", "add", h.link, "type", "dummy")
		}
		if err != nil {
			return fmt.Errorf("create link %s for the node IPs (needs CAP_NET_ADMIN): %w", h.link, err)
		}
		h.ips = map[string]bool{}
	}
	if err := ipCommand("addr", "add", ip+"/32", "dev", h.link); err != nil {
		return fmt.Errorf("add node IP %s to link %s: %w", ip, h.link, err)
	}
	h.ips[ip] = true
	return nil
}

func (h *hostAddresses) remove() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ips != nil {
		ipCommand("link", "del", h.link)
		h.ips = nil
	}
}

func ipCommand(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

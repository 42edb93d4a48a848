package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// RealComponents are the binaries of a cluster with real controllers and
// kubelets (hack/build-kube-binaries.sh builds them beside the control
// plane's).
var RealComponents = []string{"kube-controller-manager", "kube-scheduler", "hollow-node"}

// RealComponentsBuilt reports whether dir holds RealComponents, and if not,
// which one is missing and how to build it.
func RealComponentsBuilt(dir string) error {
	for _, b := range RealComponents {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return fmt.Errorf("%s is missing from %s: run hack/build-kube-binaries.sh %s", b, dir, b)
		}
	}
	return nil
}

// Component is a running kube-controller-manager or kube-scheduler.
type Component struct {
	Name       string
	proc       *process
	HealthzURL string
}

// Stop stops the component gracefully.
func (c *Component) Stop() { c.proc.stop(10 * time.Second) }

// LogPath is the component's log file.
func (c *Component) LogPath() string { return c.proc.logPath }

// ControllerManagerOptions are the kube-controller-manager settings a test
// chooses; the zero value is a kubeadm-like default.
type ControllerManagerOptions struct {
	BinDir string
	// ClusterCIDR is where node IPAM takes pod CIDRs from (default
	// 10.64.0.0/14, /24 per node).
	ClusterCIDR string
	// NodeMonitorGracePeriod is how long a node may miss heartbeats before
	// the node lifecycle controller marks it NotReady (default 40s, as
	// kube-controller-manager's).
	NodeMonitorGracePeriod time.Duration
}

// StartControllerManager runs kube-controller-manager as kubeadm configures
// it for a cluster with an external cloud provider, and waits for its
// /healthz:
//   - its own identity, system:kube-controller-manager, and one
//     ServiceAccount per controller (--use-service-account-credentials),
//     whose tokens it signs with the API server's service-account key;
//   - --cloud-provider=external: kube-controller-manager v1.37 has no cloud
//     controllers left (cmd/kube-controller-manager/names/controller_names.go
//     lists none), so --controllers=* leaves node initialisation, routes and
//     load balancers to the cloud controller manager;
//   - node IPAM on (--allocate-node-cidrs, --cluster-cidr), so every Node's
//     spec.podCIDR comes from kube-controller-manager, as the CCM's route
//     controller expects.
func (cp *ControlPlane) StartControllerManager(ctx context.Context, o ControllerManagerOptions) (*Component, error) {
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = "10.64.0.0/14"
	}
	if o.NodeMonitorGracePeriod == 0 {
		o.NodeMonitorGracePeriod = 40 * time.Second
	}
	kubeconfig := filepath.Join(cp.Dir, "kube-controller-manager.kubeconfig")
	if err := cp.WriteKubeconfig(kubeconfig, "system:kube-controller-manager", ControllerManagerToken); err != nil {
		return nil, fmt.Errorf("write kube-controller-manager kubeconfig: %w", err)
	}
	return cp.startComponent(ctx, "kube-controller-manager", filepath.Join(o.BinDir, "kube-controller-manager"), kubeconfig,
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+cp.pki.SAKey, "--root-ca-file="+cp.pki.CACert,
		"--cloud-provider=external", "--controllers=*",
		"--allocate-node-cidrs=true", "--cluster-cidr="+o.ClusterCIDR, "--node-cidr-mask-size=24",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--node-monitor-period=1s", "--node-monitor-grace-period="+o.NodeMonitorGracePeriod.String(),
	)
}

// StartScheduler runs kube-scheduler with its own identity,
// system:kube-scheduler, and waits for its /healthz.
func (cp *ControlPlane) StartScheduler(ctx context.Context, binDir string) (*Component, error) {
	kubeconfig := filepath.Join(cp.Dir, "kube-scheduler.kubeconfig")
	if err := cp.WriteKubeconfig(kubeconfig, "system:kube-scheduler", SchedulerToken); err != nil {
		return nil, fmt.Errorf("write kube-scheduler kubeconfig: %w", err)
	}
	return cp.startComponent(ctx, "kube-scheduler", filepath.Join(binDir, "kube-scheduler"), kubeconfig)
}

// startComponent runs a control plane component with the flags kubeadm
// gives each (kubeconfig for the API, authentication and authorization;
// serving on loopback) and waits for its /healthz, which both serve without
// authentication (--authorization-always-allow-paths defaults to /healthz).
func (cp *ControlPlane) startComponent(ctx context.Context, name, bin, kubeconfig string, extra ...string) (*Component, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig=" + kubeconfig, "--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--leader-elect=false", "--profiling=false", "--v=2",
	}, extra...)
	proc, url, err := startServing(ctx, cp.Dir, name, bin, args, nil, port)
	if err != nil {
		return nil, err
	}
	return &Component{Name: name, proc: proc, HealthzURL: url}, nil
}

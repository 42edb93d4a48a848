// Command hollow-node runs the real kubelet code (k8s.io/kubernetes/pkg/kubemark's
// hollow kubelet) with a fake container runtime, a fake image service and a fake
// cAdvisor, configured the way a kubelet of a cluster with an external cloud
// provider is: --cloud-provider=external, --node-ip set to the instance's
// internal IP, --hostname-override set to the instance's name, and no
// --provider-id. So the kubelet itself registers its Node with the
// node.cloudprovider.kubernetes.io/uninitialized taint and the
// alpha.kubernetes.io/provided-node-ip annotation, heartbeats it, and runs the
// pods scheduled to it (their fake containers are Running and Ready), and the
// cloud controller manager initialises it.
//
// What differs from upstream's cmd/kubemark hollow node, and why:
//   - no providerID: pkg/kubemark sets kubemark://NAME, which a real
//     external-cloud kubelet never does (it leaves spec.providerID to the
//     cloud node controller, k8s.io/cloud-provider/controllers/node);
//   - the kubelet's server listens on 127.0.0.1 and a port of the caller's
//     choosing, and the read-only port is off, so many hollow nodes share one
//     host;
//   - the image service is the fake one, not the host's containerd socket;
//   - each pod gets an address of the node's pod CIDR (podnetwork.go), where
//     the fake runtime gives every pod 192.168.192.168.
//
// What is still not real: no containers run (a pod's containers are fake
// entries in the fake runtime), pods get no network namespace (their address
// is reported, not reachable), and the
// kubelet's --node-ip must be an address of a host interface, because the
// kubelet checks that (validateNodeIP in pkg/kubelet/kubelet_node_status.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	remote "k8s.io/cri-client/pkg"
	fakeremote "k8s.io/cri-client/pkg/fake"
	"k8s.io/klog/v2"
	cadvisortest "k8s.io/kubernetes/pkg/kubelet/cadvisor/testing"
	"k8s.io/kubernetes/pkg/kubelet/cm"
	"k8s.io/kubernetes/pkg/kubemark"
)

// options are the kubelet flags this command takes, named as the kubelet
// names them.
type options struct {
	kubeconfig                string
	hostnameOverride          string
	nodeIP                    string
	cloudProvider             string
	rootDir                   string
	port                      int
	nodeStatusUpdateFrequency time.Duration
	nodeLeaseDurationSeconds  int
	maxPods                   int
}

func main() {
	var o options
	klog.InitFlags(nil)
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of this node's identity (system:node:NAME in group system:nodes)")
	flag.StringVar(&o.hostnameOverride, "hostname-override", "", "the Node's name: the instance's name")
	flag.StringVar(&o.nodeIP, "node-ip", "", "the instance's internal IP (must be an address of a host interface)")
	flag.StringVar(&o.cloudProvider, "cloud-provider", "external", "only external is supported")
	flag.StringVar(&o.rootDir, "root-dir", "", "the kubelet's state directory (default: a new temporary directory)")
	flag.IntVar(&o.port, "port", 10250, "the port of the kubelet's server, on 127.0.0.1")
	flag.DurationVar(&o.nodeStatusUpdateFrequency, "node-status-update-frequency", 10*time.Second, "how often the kubelet posts node status and renews its Lease")
	flag.IntVar(&o.nodeLeaseDurationSeconds, "node-lease-duration-seconds", 40, "the duration of the node's Lease; the kubelet renews it every quarter of that")
	flag.IntVar(&o.maxPods, "max-pods", 110, "pods this node can run")
	flag.Parse()
	if err := o.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "hollow-node: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		klog.ErrorS(err, "hollow node failed", "node", o.hostnameOverride)
		os.Exit(1)
	}
}

func (o options) validate() error {
	switch {
	case o.kubeconfig == "":
		return fmt.Errorf("--kubeconfig is required")
	case o.hostnameOverride == "":
		return fmt.Errorf("--hostname-override is required (the instance's name)")
	case o.cloudProvider != "external":
		return fmt.Errorf("--cloud-provider=%q: only external is supported", o.cloudProvider)
	case o.port <= 0 || o.port > 65535:
		return fmt.Errorf("--port=%d: not a port", o.port)
	case o.nodeIP != "" && net.ParseIP(o.nodeIP) == nil:
		return fmt.Errorf("--node-ip=%q: not an IP address", o.nodeIP)
	case o.nodeStatusUpdateFrequency <= 0:
		return fmt.Errorf("--node-status-update-frequency=%s: must be positive", o.nodeStatusUpdateFrequency)
	case o.nodeLeaseDurationSeconds <= 0:
		return fmt.Errorf("--node-lease-duration-seconds=%d: must be positive", o.nodeLeaseDurationSeconds)
	case o.maxPods <= 0:
		return fmt.Errorf("--max-pods=%d: must be positive", o.maxPods)
	}
	return nil
}

func run(ctx context.Context, o options) error {
	restConfig, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", o.kubeconfig, err)
	}
	restConfig.UserAgent = "hollow-node"
	client, err := clientset.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}

	flags, config := kubemark.GetHollowKubeletConfig(&kubemark.HollowKubeletOptions{
		NodeName: o.hostnameOverride, KubeletPort: o.port, MaxPods: o.maxPods,
	})
	// GetHollowKubeletConfig made its directories under a new temporary one.
	if o.rootDir != "" {
		if err := os.RemoveAll(flags.RootDirectory); err != nil {
			return fmt.Errorf("remove %s: %w", flags.RootDirectory, err)
		}
		for _, d := range []string{"static-pods", "pod-logs"} {
			if err := os.MkdirAll(filepath.Join(o.rootDir, d), 0o755); err != nil {
				return fmt.Errorf("create %s: %w", d, err)
			}
		}
		flags.RootDirectory = o.rootDir
		config.StaticPodPath = filepath.Join(o.rootDir, "static-pods")
		config.PodLogsDir = filepath.Join(o.rootDir, "pod-logs")
	}
	// The kubelet flags of a node in a cluster with an external cloud
	// provider: the kubelet registers the Node tainted uninitialized and
	// annotated with the provided node IP, and leaves spec.providerID to the
	// cloud node controller (pkg/kubelet/kubelet_node_status.go, initialNode;
	// pkg/kubelet/nodestatus/setters.go, NodeAddress).
	flags.CloudProvider = o.cloudProvider
	flags.NodeIP = o.nodeIP
	flags.HostnameOverride = o.hostnameOverride
	config.ProviderID = ""
	config.Address = "127.0.0.1"
	config.ReadOnlyPort = 0
	// The kubelet's own healthz server defaults to 127.0.0.1:10248, which
	// every hollow node on one host would share; kubemark runs each in a pod
	// of its own network namespace.
	config.HealthzPort = 0
	config.NodeStatusUpdateFrequency.Duration = o.nodeStatusUpdateFrequency
	config.NodeLeaseDurationSeconds = int32(o.nodeLeaseDurationSeconds)

	// As upstream's hollow node: heartbeats have no client-side rate limit
	// and time out within the lease (cmd/kubemark/app/hollow_node.go).
	heartbeatConfig := *restConfig
	heartbeatConfig.QPS = -1
	heartbeatConfig.Timeout = min(config.NodeStatusUpdateFrequency.Duration, time.Duration(config.NodeLeaseDurationSeconds)*time.Second)
	heartbeatClient, err := clientset.NewForConfig(&heartbeatConfig)
	if err != nil {
		return fmt.Errorf("create heartbeat client: %w", err)
	}

	endpoint, err := fakeremote.GenerateEndpoint()
	if err != nil {
		return fmt.Errorf("generate fake runtime endpoint: %w", err)
	}
	fakeRuntime := fakeremote.NewFakeRemoteRuntime()
	if err := fakeRuntime.Start(endpoint); err != nil {
		return fmt.Errorf("start fake runtime: %w", err)
	}
	defer fakeRuntime.Stop()
	runtimeService, err := remote.NewRemoteRuntimeServiceBuilder().WithEndpoint(endpoint).
		WithConnectionTimeout(15 * time.Second).Build(ctx)
	if err != nil {
		return fmt.Errorf("connect to fake runtime: %w", err)
	}
	// Pod addresses from the node's pod CIDR, not one fake address for all.
	pods := newPodNetwork(runtimeService, func(ctx context.Context) ([]string, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, o.hostnameOverride, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return n.Spec.PodCIDRs, nil
	})

	klog.InfoS("Starting hollow node", "node", o.hostnameOverride, "nodeIP", o.nodeIP, "port", o.port,
		"rootDir", flags.RootDirectory)
	hollow := kubemark.NewHollowKubelet(flags, config, client, heartbeatClient,
		&cadvisortest.Fake{NodeName: o.hostnameOverride}, fakeRuntime.ImageService, pods,
		cm.NewStubContainerManager())
	go hollow.Run(ctx)
	<-ctx.Done()
	return nil
}

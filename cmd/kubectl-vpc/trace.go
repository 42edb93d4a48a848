package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"

	"github.com/spf13/cobra"
	v1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace/observe"
)

// Options are the settings of `kubectl vpc trace`.
type Options struct {
	Namespace string
	Service   string

	From   string // IP:PORT of the client
	To     string // the address the client connects to
	ToNode string
	Port   string
	Output string // text, json or mermaid

	CloudConfig     string
	ComputeEndpoint string
	Project         string
	Region          string
	ClusterName     string

	// SendCredentialsToEndpoint sends the user's Google credentials to an
	// api-endpoint of the cloud config that is not Google's.
	SendCredentialsToEndpoint bool
}

func newTraceCommand(kubeFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{}
	cmd := &cobra.Command{
		Use:   "trace [-n NAMESPACE] SERVICE",
		Short: "Print the hops, rewrites and drops of a packet from a client to a pod of a LoadBalancer Service",
		Long: `Print the path a packet takes from a client to a pod of a LoadBalancer Service
and back: every hop, every rewrite of its addresses, and the component that
makes it (the VPC's 1:1 NAT, the VPC firewall, a forwarding rule, kube-proxy's
DNAT and masquerade, a VPC route). When the packet would be dropped it says
where, why, and what to change. It reads the Service, its EndpointSlices and
the nodes, and the cloud resources cloud-provider-vpc made for the Service;
it changes nothing. What --cloud-config and --cluster-name leave out comes
from the CCM as deploy/ installs it: the arguments of DaemonSet
kube-system/cloud-controller-manager and the ConfigMaps they come from.`,
		Example: `  kubectl vpc trace -n shop web
  kubectl vpc trace -n shop web --cloud-config /etc/kubernetes/gce.conf --cluster-name prod-eu
  kubectl vpc trace web --project my-project --region us-central1 --cluster-name prod-eu --to-node node-2 -o mermaid
  kubectl vpc trace web --compute-endpoint http://127.0.0.1:8085/compute/v1/ --project my-project --region us-central1 --cluster-name ci`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			ns, _, err := kubeFlags.ToRawKubeConfigLoader().Namespace()
			if err != nil {
				return fmt.Errorf("namespace: %w", err)
			}
			o.Namespace = ns
			rest, err := kubeFlags.ToRESTConfig()
			if err != nil {
				return fmt.Errorf("kubeconfig: %w", err)
			}
			kube, err := kubernetes.NewForConfig(rest)
			if err != nil {
				return fmt.Errorf("kubernetes client: %w", err)
			}
			return Run(cmd.Context(), *o, kube, streams.Out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.From, "from", trace.DefaultClient.String(), "the client's IP:PORT (an IPv6 client: [2001:db8::10]:40000)")
	f.StringVar(&o.To, "to", "", "the address the client connects to (default: the Service's published address)")
	f.StringVar(&o.ToNode, "to-node", "", "the node the packet reaches: the load balancer's backend, or the node whose address the client uses in nodeip mode (default: the first candidate)")
	f.StringVar(&o.Port, "port", "", "the Service port, by name or number (default: the first)")
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text, json or mermaid")
	f.StringVar(&o.CloudConfig, "cloud-config", "", "the CCM's cloud config (gce.conf): project, region, network, load balancer defaults (default: the one DaemonSet kube-system/cloud-controller-manager mounts from a ConfigMap)")
	f.StringVar(&o.ComputeEndpoint, "compute-endpoint", "", "the compute API's base URL, such as fake-gce's http://127.0.0.1:8085/compute/v1/ (then no credentials are sent)")
	f.BoolVar(&o.SendCredentialsToEndpoint, "send-credentials-to-endpoint", false, "send your Google credentials to the cloud config's api-endpoint even when it is not Google's API over https")
	f.StringVar(&o.Project, "project", "", "the project (default: [global] project-id of the cloud config)")
	f.StringVar(&o.Region, "region", "", "the region of the load balancers (default: that of [global] local-zone of the cloud config)")
	f.StringVar(&o.ClusterName, "cluster-name", "", "the CCM's --cluster-name, which names the cluster's cloud resources (default: that of DaemonSet kube-system/cloud-controller-manager)")
	return cmd
}

// Run traces o.Service with the Kubernetes client kube and the compute API
// the options name, and writes the trace to out in o.Output's format.
func Run(ctx context.Context, o Options, kube kubernetes.Interface, out io.Writer) error {
	write, err := writerOf(o.Output)
	if err != nil {
		return err
	}
	var from netip.AddrPort
	if o.From != "" {
		if from, err = netip.ParseAddrPort(o.From); err != nil {
			return fmt.Errorf("--from %q: not an IP:PORT such as 198.51.100.10:40000 or [2001:db8::10]:40000", o.From)
		}
	}
	var to netip.Addr
	if o.To != "" {
		if to, err = netip.ParseAddr(o.To); err != nil {
			return fmt.Errorf("--to %q: not an IP address", o.To)
		}
	}
	cloud, err := cloudSettingsOf(ctx, &o, kube)
	if err != nil {
		return err
	}
	api, err := cloud.computeClient(ctx, &o)
	if err != nil {
		return err
	}
	// The owner the provider derives from the same cloud config: on a
	// Shared VPC, the cluster's name and its service project.
	owner := cloud.cfg.Owner(cloud.clusterName)
	reader := observe.Reader{Kube: kube, Compute: api, Region: cloud.region, Owner: owner, Client: from.Addr()}
	var also []netip.Addr
	if to.IsValid() {
		also = append(also, to)
	}
	in, err := reader.Read(ctx, o.Namespace, o.Service, also...)
	if err != nil {
		return err
	}
	in.Settings.Owner, in.Settings.DefaultMode = owner, cloud.cfg.LoadBalancer.Mode
	in.Settings.NodeIPAddressType = v1.NodeAddressType(cloud.cfg.LoadBalancer.NodeIPAddressType)
	in.From, in.To, in.ToNode, in.Port = from, to, o.ToNode, o.Port
	if from == trace.DefaultClient && len(in.Service.Spec.IPFamilies) > 0 && in.Service.Spec.IPFamilies[0] == v1.IPv6Protocol && len(in.Service.Spec.IPFamilies) == 1 {
		in.From = netip.AddrPort{} // the default client of an IPv6 Service
	}
	t, err := trace.Run(in)
	if err != nil {
		return err
	}
	return write(out, t)
}

func writerOf(format string) (func(io.Writer, *trace.Trace) error, error) {
	switch format {
	case "", "text":
		return trace.WriteText, nil
	case "json":
		return trace.WriteJSON, nil
	case "mermaid":
		return trace.WriteMermaid, nil
	}
	return nil, fmt.Errorf("--output %q: use text, json or mermaid", format)
}

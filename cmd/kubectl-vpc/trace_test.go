package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

const (
	clusterName = "lab"
	webUID      = "5b7c1f7e-2a4d-4e8b-9c3a-0d1e2f3a4b5c"
)

// cluster is fake-gce with three node instances, the CCM's provider
// against it, and the Kubernetes objects of the nodes.
type cluster struct {
	fc          *fakegcetest.Cloud
	provider    *gce.Cloud
	cloudConfig string // path of the provider's gce.conf
	nodes       []*v1.Node
}

// newCluster makes the packet lab's cloud: network default (its
// us-central1 subnetwork is 10.128.0.0/20), instances node-1..3 tagged
// k8s-node with external addresses, a rule that lets the nodes reach each
// other's pods, and a pod CIDR route per node made by the provider's
// route code, as the CCM's route controller makes it.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	fc := fakegcetest.Start(t, fakegce.Config{})
	c := &cluster{fc: fc}
	fixture.InsertNetwork(t, fc, fc.Project, fixture.AutoNetwork("default"))
	for i := 1; i <= 3; i++ {
		wait(t, fc)(fc.Compute.Instances.Insert(fc.Project, "us-central1-a", &compute.Instance{
			Name: fmt.Sprintf("node-%d", i), MachineType: "zones/us-central1-a/machineTypes/e2-medium",
			Disks:             []*compute.AttachedDisk{{Boot: true, AutoDelete: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
			NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default", AccessConfigs: []*compute.AccessConfig{{Type: "ONE_TO_ONE_NAT"}}}},
			Tags:              &compute.Tags{Items: []string{"k8s-node"}}}).Do())
	}
	wait(t, fc)(fc.Compute.Firewalls.Insert(fc.Project, &compute.Firewall{Name: "lab-nodes-to-pods", Network: "global/networks/default",
		SourceTags: []string{"k8s-node"}, TargetTags: []string{"k8s-node"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}}).Do())

	conf := fmt.Sprintf("[global]\nproject-id = %s\nlocal-zone = us-central1-a\nnetwork-name = default\nnode-tags = k8s-node\napi-endpoint = %s\n[compute-api]\nno-authentication = true\n", fc.Project, fc.Endpoint)
	c.startProvider(t, fc.Project, conf)
	return c
}

// startProvider writes conf as the cluster's gce.conf, starts the CCM's
// provider with it, and makes the Kubernetes nodes of instances node-1..3
// of project, each with a pod CIDR route made by the provider's route code,
// as the CCM's route controller makes it.
func (c *cluster) startProvider(t *testing.T, project, conf string) {
	t.Helper()
	ctx := context.Background()
	c.cloudConfig = filepath.Join(t.TempDir(), "gce.conf")
	if err := os.WriteFile(c.cloudConfig, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := cloudconfig.Parse(strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	if c.provider, err = gce.New(ctx, cfg, gce.Options{ClusterName: clusterName}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		inst, err := c.fc.Compute.Instances.Get(project, "us-central1-a", fmt.Sprintf("node-%d", i)).Do()
		if err != nil {
			t.Fatal(err)
		}
		nic := inst.NetworkInterfaces[0]
		cidr := fmt.Sprintf("10.64.%d.0/24", i)
		c.nodes = append(c.nodes, &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: inst.Name},
			Spec:       v1.NodeSpec{ProviderID: "gce://" + project + "/us-central1-a/" + inst.Name, PodCIDR: cidr, PodCIDRs: []string{cidr}},
			Status: v1.NodeStatus{
				Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
				Addresses: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: nic.NetworkIP},
					{Type: v1.NodeExternalIP, Address: nic.AccessConfigs[0].NatIP}}},
		})
		route := &cloudprovider.Route{TargetNode: types.NodeName(inst.Name), DestinationCIDR: cidr}
		if err := c.provider.CreateRoute(ctx, clusterName, inst.Name, route); err != nil {
			t.Fatal(err)
		}
	}
}

// wait checks a compute call and waits for its operation, in the project,
// region or zone the operation names.
func wait(t *testing.T, fc *fakegcetest.Cloud) func(*compute.Operation, error) {
	return func(op *compute.Operation, err error) {
		t.Helper()
		if err == nil {
			err = fixture.Wait(fc, op) // a failed operation fails the setup too
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// web is the Service: port 80 to 8080, pods web-a on node-1 and web-b on
// node-2.
func web(opts ...fixture.ServiceOption) (*v1.Service, *discoveryv1.EndpointSlice) {
	svc := fixture.Service("web", append([]fixture.ServiceOption{fixture.UID(webUID), fixture.LoadBalancer(),
		fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyCluster), fixture.Families(v1.IPv4Protocol), fixture.HTTPPort(0, 0)}, opts...)...)
	endpoint := func(pod, ip, node string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(node), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef: &v1.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod}}
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "web-x1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{endpoint("web-a", "10.64.1.3", "node-1"), endpoint("web-b", "10.64.2.5", "node-2")},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To[int32](8080)}},
	}
	return svc, slice
}

// clientset is the fake Kubernetes API holding the Service, its slice and
// the nodes.
func (c *cluster) clientset(svc *v1.Service, slice *discoveryv1.EndpointSlice) *fake.Clientset {
	objs := []runtime.Object{svc, slice}
	for _, n := range c.nodes {
		objs = append(objs, n)
	}
	return fake.NewClientset(objs...)
}

// run runs the command's Run and decodes its JSON.
func run(t *testing.T, o Options, kube *fake.Clientset) *trace.Trace {
	t.Helper()
	o.Namespace, o.Service, o.Output = "default", "web", "json"
	var out bytes.Buffer
	if err := Run(context.Background(), o, kube, &out); err != nil {
		t.Fatal(err)
	}
	var got trace.Trace
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v in:\n%s", err, out.String())
	}
	return &got
}

// hops are "component: description" of each hop.
func hops(t *trace.Trace) []string {
	var out []string
	for _, h := range t.Hops {
		out = append(out, h.Component+": "+h.Description)
	}
	return out
}

func TestRunTracesTheExternalLoadBalancerTheProviderMade(t *testing.T) {
	c := newCluster(t)
	svc, slice := web()
	status, err := c.provider.EnsureLoadBalancer(context.Background(), clusterName, svc, c.nodes)
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer = *status
	lbIP := status.Ingress[0].IP
	base := ownership.ForCluster(clusterName).LoadBalancerBase(webUID)
	nodeIP := c.nodes[2].Status.Addresses[0].Address

	got := run(t, Options{CloudConfig: c.cloudConfig, ToNode: "node-3", ClusterName: clusterName}, c.clientset(svc, slice))

	want := []string{
		"client: the client connects to the load balancer's address " + lbIP + " (status.loadBalancer.ingress)",
		"forwarding rule: " + base + "-tcp (TCP 80) sends it to backend service " + base + ", instance node-3 (" + nodeIP + "); passthrough: the destination stays " + lbIP,
		"VPC firewall: allowed by " + base + "-fw (priority 1000)",
		"kube-proxy DNAT: Service default/web port 80 -> endpoint web-a (10.64.1.3:8080) on node-1",
		"kube-proxy SNAT (masquerade): externalTrafficPolicy Cluster: kube-proxy masquerades external traffic so that the reply comes back through node-3: source 198.51.100.10:40000 -> " + nodeIP + ", a port picked at random (MASQUERADE --random-fully)",
		"node route: node-3 sends it to the VPC (its default route); route " + ownership.ForCluster(clusterName).ResourceName("r", "node-1") + " sends 10.64.1.0/24 to instance node-1",
		"VPC firewall: allowed by lab-nodes-to-pods (priority 1000)",
		"pod: pod web-a receives it on 10.64.1.3:8080",
	}
	if diff := cmp.Diff(want, hops(got)); diff != "" {
		t.Errorf("hops (-want +got):\n%s", diff)
	}
	if got.Outcome != trace.Delivered || len(got.Backends) != 3 || !got.Backends[2].Healthy {
		t.Errorf("outcome %s, backends %+v; want delivered through three healthy backends", got.Outcome, got.Backends)
	}
}

func TestRunExplainsANodeipDropFromTheComputeEndpoint(t *testing.T) {
	c := newCluster(t)
	svc, slice := web(func(s *v1.Service) { s.Annotations[annotations.Mode] = annotations.ModeNodeIP })
	owner := ownership.ForCluster(clusterName)
	published := c.nodes[0].Status.Addresses[0].Address
	// The nodeip rule of a Service that publishes node-1 only, named and
	// marked as the nodeip controller writes it.
	rule := ownership.NodeIPFirewallName(owner.LoadBalancerBase(webUID))
	wait(t, c.fc)(c.fc.Compute.Firewalls.Insert(c.fc.Project, &compute.Firewall{Name: rule, Network: "global/networks/default",
		Description:  owner.Description(map[string]string{ownership.ServiceKey: "default/web", ownership.ServiceUIDKey: webUID}),
		SourceRanges: []string{"0.0.0.0/0"}, DestinationRanges: []string{published + "/32"}, TargetTags: []string{"k8s-node"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}}).Do())
	svc.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: published, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)}}
	c.nodes[1].Status.Conditions[0].Status = v1.ConditionFalse
	node2 := c.nodes[1].Status.Addresses[0].Address

	got := run(t, Options{ComputeEndpoint: c.fc.Endpoint, Project: c.fc.Project, Region: "us-central1", ToNode: "node-2", ClusterName: clusterName},
		c.clientset(svc, slice))

	// The client is outside the VPC (network default's ranges, which
	// observe reads): it reaches node-2 through its external address.
	if len(got.Hops) < 2 || got.Hops[1].Component != "VPC NAT" || got.Hops[1].After.Dst.Addr().String() != node2 {
		t.Errorf("hops %v, want the 1:1 NAT of node-2's external address to %s second", hops(got), node2)
	}
	want := &trace.Drop{Hop: 3, Component: "VPC firewall", At: "node-2",
		Reason: "no firewall rule allows tcp:80 from 198.51.100.10 to " + node2 + " on node-2 (tags k8s-node); the Service's rule " + rule + " lists destination " + published + " only; node-2 is not Ready",
		Fix:    []string{"connect to a published address: " + published + " (from outside the VPC: " + published + " through " + c.nodes[0].Status.Addresses[1].Address + ")"}}
	if diff := cmp.Diff(want, got.Drop); diff != "" {
		t.Errorf("drop (-want +got):\n%s", diff)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{name: "an unknown output format", o: Options{Output: "yaml"}, want: `--output "yaml": use text, json or mermaid`},
		{name: "a client that is no IP:PORT", o: Options{From: "198.51.100.10"}, want: `--from "198.51.100.10": not an IP:PORT such as 198.51.100.10:40000 or [2001:db8::10]:40000`},
		{name: "no project, and no CCM to read it from", o: Options{Region: "us-central1"},
			want: "no project: set --project, or --cloud-config to the CCM's cloud config (no DaemonSet kube-system/cloud-controller-manager)"},
		{name: "no region, and no CCM to read it from", o: Options{Project: "fake-project"},
			want: "no region: set --region, or --cloud-config to the CCM's cloud config (no DaemonSet kube-system/cloud-controller-manager)"},
		{name: "no cluster name, and no CCM to read it from", o: Options{Project: "fake-project", Region: "us-central1"},
			want: "no cluster name: set --cluster-name to the CCM's, which names the cluster's cloud resources (no DaemonSet kube-system/cloud-controller-manager)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), tc.o, fake.NewClientset(), &bytes.Buffer{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Run = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestTheCommandIsAKubectlPlugin(t *testing.T) {
	var out bytes.Buffer
	root := newRootCommand(genericiooptions.IOStreams{Out: &out, ErrOut: &out})
	root.SetArgs([]string{"trace", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubectl vpc trace [-n NAMESPACE] SERVICE", "--kubeconfig", "--context", "--namespace", "--cloud-config", "--compute-endpoint", "--to-node", "--from"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

// kubeProxyConfigMap is kube-proxy's ConfigMap as kubeadm writes it
// (cmd/kubeadm/app/phases/addons/proxy: ConfigMap kube-proxy in
// kube-system, key config.conf, a KubeProxyConfiguration).
func kubeProxyConfigMap(conf string) *v1.ConfigMap {
	return &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"},
		Data: map[string]string{"config.conf": conf}}
}

func TestRunReadsKubeProxysModeFromItsConfigMap(t *testing.T) {
	c := newCluster(t)
	svc, slice := web()
	status, err := c.provider.EnsureLoadBalancer(context.Background(), clusterName, svc, c.nodes)
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer = *status
	tests := []struct {
		name      string
		configMap *v1.ConfigMap
		wantMode  string
		wantFrom  string
	}{
		{"nftables in config.conf", kubeProxyConfigMap("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n"), "nftables", "ConfigMap kube-system/kube-proxy"},
		{"an empty mode is kube-proxy's default", kubeProxyConfigMap("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"\"\n"), "iptables", "ConfigMap kube-system/kube-proxy (mode unset: kube-proxy's default on Linux)"},
		{"no ConfigMap: assumed", nil, "iptables", "assumed: kube-proxy's default on Linux"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kube := c.clientset(svc, slice)
			if tc.configMap != nil {
				if _, err := kube.CoreV1().ConfigMaps("kube-system").Create(context.Background(), tc.configMap, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			got := run(t, Options{CloudConfig: c.cloudConfig, ClusterName: clusterName}, kube)
			if got.KubeProxyMode != tc.wantMode || got.KubeProxyModeSource != tc.wantFrom {
				t.Errorf("kube-proxy mode %q (%s), want %q (%s)", got.KubeProxyMode, got.KubeProxyModeSource, tc.wantMode, tc.wantFrom)
			}
		})
	}
}

func TestRunReadsTheClientVMOfTheVPC(t *testing.T) {
	c := newCluster(t)
	// A VM of the VPC that is no node, and a rule that denies its tag:
	// source tags match the primary address of a tagged instance
	// (EvaluateIngress), so the trace must read the client's instance.
	wait(t, c.fc)(c.fc.Compute.Instances.Insert(c.fc.Project, "us-central1-a", &compute.Instance{
		Name: "client-vm", MachineType: "zones/us-central1-a/machineTypes/e2-medium",
		Disks:             []*compute.AttachedDisk{{Boot: true, AutoDelete: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default"}},
		Tags:              &compute.Tags{Items: []string{"blocked"}}}).Do())
	client, err := c.fc.Compute.Instances.Get(c.fc.Project, "us-central1-a", "client-vm").Do()
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c.fc)(c.fc.Compute.Firewalls.Insert(c.fc.Project, &compute.Firewall{Name: "block-tagged", Network: "global/networks/default", Priority: 900,
		SourceTags: []string{"blocked"}, Denied: []*compute.FirewallDenied{{IPProtocol: "tcp", Ports: []string{"80"}}}}).Do())
	// A nodeip Service that publishes node-1, with its rule from anywhere.
	svc, slice := web(func(s *v1.Service) { s.Annotations[annotations.Mode] = annotations.ModeNodeIP })
	owner := ownership.ForCluster(clusterName)
	published := c.nodes[0].Status.Addresses[0].Address
	wait(t, c.fc)(c.fc.Compute.Firewalls.Insert(c.fc.Project, &compute.Firewall{Name: ownership.NodeIPFirewallName(owner.LoadBalancerBase(webUID)), Network: "global/networks/default",
		Description:  owner.Description(map[string]string{ownership.ServiceKey: "default/web", ownership.ServiceUIDKey: webUID}),
		SourceRanges: []string{"0.0.0.0/0"}, DestinationRanges: []string{published + "/32"}, TargetTags: []string{"k8s-node"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}}).Do())
	svc.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: published, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)}}
	clientIP := client.NetworkInterfaces[0].NetworkIP

	got := run(t, Options{CloudConfig: c.cloudConfig, ClusterName: clusterName, From: clientIP + ":40000"}, c.clientset(svc, slice))

	if got.Drop == nil || !strings.HasPrefix(got.Drop.Reason, "firewall rule block-tagged (priority 900) denies tcp:80 from "+clientIP) {
		t.Errorf("hops %v, drop %+v; want rule block-tagged to deny the client VM by its tag", hops(got), got.Drop)
	}
}

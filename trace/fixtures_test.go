package trace

import (
	"fmt"
	"net/netip"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// The fixtures are the packet lab's cluster: three nodes in subnetwork
// 10.128.0.0/20, node N with internal address 10.128.0.(N+1), external
// address 203.0.113.(N+1) and pod CIDR 10.64.N.0/24, and a Service web
// (port 80 -> 8080) with pods web-a on node-1 and web-b on node-2.

const (
	testProject = "fake-project"
	testZone    = "us-central1-a"
	testRegion  = "us-central1"
	linkBase    = "https://www.googleapis.com/compute/v1/projects/" + testProject + "/"
	lbIP        = "203.0.113.10"
	lbIPv6      = "2600:1900:4000:a0e::"
	webUID      = "5b7c1f7e-2a4d-4e8b-9c3a-0d1e2f3a4b5c"
	hcNodePort  = 31234
)

var (
	testOwner = ownership.ForCluster("lab")
	webBase   = testOwner.LoadBalancerBase(webUID)
)

// lab is the cluster and cloud of a scenario, changed by options.
type lab struct {
	svc    *v1.Service
	slices []*discoveryv1.EndpointSlice
	nodes  []*v1.Node
	cloud  Cloud
	mode   string
}

type labOpt func(*lab)

// newLab is web as an external load balancer on a backend service, with
// externalTrafficPolicy Cluster, and the firewall rules the CCM and the
// cluster's owner made: the Service's client and health-check rules, and
// one that lets the nodes reach each other's pods.
func newLab(opts ...labOpt) *lab {
	l := &lab{mode: annotations.ModeExternal}
	l.cloud.NetworkRanges = []netip.Prefix{netip.MustParsePrefix("10.128.0.0/20")}
	for i := 1; i <= 3; i++ {
		l.nodes = append(l.nodes, labNode(i))
		l.cloud.Instances = append(l.cloud.Instances, labInstance(i))
		l.cloud.Routes = append(l.cloud.Routes, &compute.Route{
			Name: testOwner.ResourceName("r", fmt.Sprintf("node-%d", i)), Network: testNetwork, Priority: 1000,
			DestRange: fmt.Sprintf("10.64.%d.0/24", i), NextHopInstance: instanceLink(i)})
	}
	l.svc = fixture.Service("web", fixture.UID(webUID), fixture.LoadBalancer(), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyCluster),
		fixture.Families(v1.IPv4Protocol), fixture.HTTPPort(8080, 30080))
	l.slices = []*discoveryv1.EndpointSlice{newSlice("web-v4", discoveryv1.AddressTypeIPv4, podEndpoint("web-a", "10.64.1.3", "node-1"), podEndpoint("web-b", "10.64.2.5", "node-2"))}
	l.cloud.Firewalls = []*compute.Firewall{
		newFirewall("lab-nodes-to-pods", sources(), sourceTags("k8s-node"), targetTags("k8s-node"), allow("all")),
	}
	withBackendService()(l)
	for _, o := range opts {
		o(l)
	}
	return l
}

// input is the lab as a trace's input.
func (l *lab) input(opts ...func(*Input)) Input {
	in := Input{Service: l.svc, EndpointSlices: l.slices, Nodes: l.nodes, Cloud: l.cloud,
		Settings: Settings{Owner: testOwner, DefaultMode: annotations.ModeExternal}}
	for _, o := range opts {
		o(&in)
	}
	return in
}

func from(s string) func(*Input)   { return func(in *Input) { in.From = netip.MustParseAddrPort(s) } }
func toNode(n string) func(*Input) { return func(in *Input) { in.ToNode = n } }

func labNode(i int) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)},
		Spec: v1.NodeSpec{ProviderID: fmt.Sprintf("gce://%s/%s/node-%d", testProject, testZone, i),
			PodCIDR: fmt.Sprintf("10.64.%d.0/24", i), PodCIDRs: []string{fmt.Sprintf("10.64.%d.0/24", i)}},
		Status: v1.NodeStatus{
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
			Addresses: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: fmt.Sprintf("10.128.0.%d", i+1)},
				{Type: v1.NodeExternalIP, Address: fmt.Sprintf("203.0.113.%d", i+1)}}},
	}
}

func instanceLink(i int) string {
	return fmt.Sprintf("%szones/%s/instances/node-%d", linkBase, testZone, i)
}

func labInstance(i int) *compute.Instance {
	inst := vm(fmt.Sprintf("node-%d", i), fmt.Sprintf("10.128.0.%d", i+1), "k8s-node")
	inst.NetworkInterfaces[0].AccessConfigs = []*compute.AccessConfig{{Name: "External NAT", Type: "ONE_TO_ONE_NAT", NatIP: fmt.Sprintf("203.0.113.%d", i+1)}}
	return inst
}

func newSlice(name string, family discoveryv1.AddressType, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: family, Endpoints: eps,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To[int32](8080)}},
	}
}

func podEndpoint(pod, ip, node string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(node),
		Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		TargetRef:  &v1.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod}}
}

// withBackendService: the external load balancer as the CCM builds it on
// the backend-service backend (providers/gce/nlb): forwarding rule
// BASE-tcp on the reserved address, backend service BASE on the zone's
// instance group, the shared kube-proxy health check (Cluster) or the
// Service's own on its health check node port (Local), firewall rules
// BASE-fw and BASE-hc.
func withBackendService() labOpt {
	return func(l *lab) {
		igLink := linkBase + "zones/" + testZone + "/instanceGroups/" + testOwner.InstanceGroupName(testZone)
		bsLink := linkBase + "regions/" + testRegion + "/backendServices/" + webBase
		hc := testOwner.SharedHealthCheckName()
		l.cloud.ForwardingRules = []*compute.ForwardingRule{{Name: webBase + "-tcp", IPAddress: lbIP, IPProtocol: "TCP", Ports: []string{"80"},
			LoadBalancingScheme: "EXTERNAL", BackendService: bsLink}}
		l.cloud.BackendServices = []*compute.BackendService{{Name: webBase, SelfLink: bsLink, LoadBalancingScheme: "EXTERNAL",
			Backends: []*compute.Backend{{Group: igLink}}, HealthChecks: []string{linkBase + "regions/" + testRegion + "/healthChecks/" + hc}}}
		l.cloud.GroupMembers = map[string][]string{igLink: {instanceLink(1), instanceLink(2), instanceLink(3)}}
		l.cloud.HealthChecks = []*compute.HealthCheck{{Name: hc, Type: "HTTP", HttpHealthCheck: &compute.HTTPHealthCheck{Port: kubeProxyHealthPort, RequestPath: "/healthz"}}}
		l.cloud.Firewalls = append(l.cloud.Firewalls,
			newFirewall(webBase+"-fw", destinations(lbIP+"/32"), targetTags("k8s-node")),
			newFirewall(webBase+"-hc", sources("35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"), targetTags("k8s-node"), allow("tcp", "10256")))
		l.svc.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: lbIP, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)}}
	}
}

// withLocal: externalTrafficPolicy Local; the load balancer checks the
// Service's health check node port.
func withLocal() labOpt {
	return func(l *lab) {
		l.svc.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		l.svc.Spec.HealthCheckNodePort = hcNodePort
		l.cloud.HealthChecks = []*compute.HealthCheck{{Name: webBase, Type: "HTTP", HttpHealthCheck: &compute.HTTPHealthCheck{Port: hcNodePort, RequestPath: "/healthz"}}}
		l.cloud.BackendServices[0].HealthChecks = []string{linkBase + "regions/" + testRegion + "/healthChecks/" + webBase}
		for _, fw := range l.cloud.Firewalls {
			if fw.Name == webBase+"-hc" {
				fw.Allowed[0].Ports = []string{fmt.Sprint(hcNodePort)}
			}
		}
	}
}

// withNodeIP: the nodeip mode, as providers/gce/nodeip leaves it: no load
// balancer, the published nodes' addresses (of the address type) in the
// status, and rule BASE-nip to their internal addresses.
func withNodeIP(addressType v1.NodeAddressType, published ...int) labOpt {
	return func(l *lab) {
		l.mode = annotations.ModeNodeIP
		l.svc.Annotations[annotations.Mode] = annotations.ModeNodeIP
		l.svc.Annotations[annotations.NodeAddressType] = string(addressType)
		l.cloud.ForwardingRules, l.cloud.BackendServices, l.cloud.GroupMembers, l.cloud.HealthChecks = nil, nil, nil, nil
		l.cloud.Firewalls = l.cloud.Firewalls[:1]
		l.svc.Status.LoadBalancer.Ingress = nil
		var dests []string
		for _, i := range published {
			addr := fmt.Sprintf("10.128.0.%d", i+1)
			if addressType == v1.NodeExternalIP {
				addr = fmt.Sprintf("203.0.113.%d", i+1)
			}
			l.svc.Status.LoadBalancer.Ingress = append(l.svc.Status.LoadBalancer.Ingress, v1.LoadBalancerIngress{IP: addr, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)})
			dests = append(dests, fmt.Sprintf("10.128.0.%d/32", i+1))
		}
		if len(published) > 0 {
			l.cloud.Firewalls = append(l.cloud.Firewalls, newFirewall(webBase+"-nip", destinations(dests...), targetTags("k8s-node")))
		}
	}
}

func withSourceRanges(r ...string) labOpt {
	return func(l *lab) {
		l.svc.Spec.LoadBalancerSourceRanges = r
		for _, fw := range l.cloud.Firewalls {
			if fw.Name == webBase+"-fw" || fw.Name == webBase+"-nip" {
				fw.SourceRanges = r
			}
		}
	}
}

func withNotReady(node int) labOpt {
	return func(l *lab) {
		l.nodes[node-1].Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionFalse}}
	}
}

func withoutFirewall(name string) labOpt {
	return func(l *lab) {
		var keep []*compute.Firewall
		for _, fw := range l.cloud.Firewalls {
			if fw.Name != name {
				keep = append(keep, fw)
			}
		}
		l.cloud.Firewalls = keep
	}
}

func withEndpoints(eps ...discoveryv1.Endpoint) labOpt {
	return func(l *lab) { l.slices[0].Endpoints = eps }
}

func withCondition(reason, message string) labOpt {
	return func(l *lab) {
		l.svc.Status.Conditions = []metav1.Condition{{Type: lbcondition.Type, Status: metav1.ConditionFalse, Reason: reason, Message: message}}
	}
}

// withDualStack: the Service also serves IPv6 (the backend-service
// backend's external IPv6 address and rules BASE-tcp-v6, BASE-fw6), the
// nodes have IPv6 addresses and pod CIDRs, and web-a has an IPv6 address.
func withDualStack() labOpt {
	return func(l *lab) {
		l.svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
		l.svc.Status.LoadBalancer.Ingress = append(l.svc.Status.LoadBalancer.Ingress, v1.LoadBalancerIngress{IP: lbIPv6, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)})
		v6 := *l.cloud.ForwardingRules[0]
		v6.Name, v6.IPAddress, v6.IpVersion = webBase+"-tcp-v6", lbIPv6, "IPV6"
		l.cloud.ForwardingRules = append(l.cloud.ForwardingRules, &v6)
		l.cloud.Firewalls = append(l.cloud.Firewalls,
			newFirewall(webBase+"-fw6", sources("::/0"), destinations(lbIPv6+"/96"), targetTags("k8s-node")),
			newFirewall(webBase+"-hc6", sources("2600:1901:8001::/48"), targetTags("k8s-node"), allow("tcp", "10256")))
		for i, n := range l.nodes {
			n.Spec.PodCIDRs = append(n.Spec.PodCIDRs, fmt.Sprintf("fd00:10:64:%d::/64", i+1))
			n.Status.Addresses = append(n.Status.Addresses, v1.NodeAddress{Type: v1.NodeInternalIP, Address: fmt.Sprintf("fd20:1::%d", i+2)})
			l.cloud.Instances[i].NetworkInterfaces[0].Ipv6Address = fmt.Sprintf("fd20:1::%d", i+2)
		}
		l.slices = append(l.slices, newSlice("web-v6", discoveryv1.AddressTypeIPv6, podEndpoint("web-a", "fd00:10:64:1::3", "node-1")))
	}
}

// withTargetPool: the external load balancer on the target-pool backend:
// forwarding rule BASE-tcp (port range 80-80) to target pool BASE of the
// nodes' instances, checked by the shared legacy HTTP health check.
func withTargetPool() labOpt {
	return func(l *lab) {
		hc := testOwner.SharedHealthCheckName()
		tpLink := linkBase + "regions/" + testRegion + "/targetPools/" + webBase
		l.cloud.ForwardingRules = []*compute.ForwardingRule{{Name: webBase + "-tcp", IPAddress: lbIP, IPProtocol: "TCP", PortRange: "80-80",
			LoadBalancingScheme: "EXTERNAL", Target: tpLink}}
		l.cloud.BackendServices, l.cloud.GroupMembers, l.cloud.HealthChecks = nil, nil, nil
		l.cloud.TargetPools = []*compute.TargetPool{{Name: webBase, SelfLink: tpLink, Instances: []string{instanceLink(1), instanceLink(2), instanceLink(3)},
			HealthChecks: []string{linkBase + "global/httpHealthChecks/" + hc}}}
		l.cloud.HTTPHealthChecks = []*compute.HttpHealthCheck{{Name: hc, Port: kubeProxyHealthPort, RequestPath: "/healthz"}}
	}
}

// withClientIPAffinity: sessionAffinity ClientIP, which the CCM makes
// CLIENT_IP on the backend service or target pool. Apply it after the
// options that pick the backend.
func withClientIPAffinity() labOpt {
	return func(l *lab) {
		l.svc.Spec.SessionAffinity = v1.ServiceAffinityClientIP
		for _, bs := range l.cloud.BackendServices {
			bs.SessionAffinity = "CLIENT_IP"
		}
		for _, tp := range l.cloud.TargetPools {
			tp.SessionAffinity = "CLIENT_IP"
		}
	}
}

// withoutPodRoutes: the VPC has only its default route to the internet.
func withoutPodRoutes() labOpt {
	return func(l *lab) {
		l.cloud.Routes = []*compute.Route{{Name: "default-route-internet", Network: testNetwork, DestRange: "0.0.0.0/0", Priority: 1000,
			NextHopGateway: linkBase + "global/gateways/default-internet-gateway"}}
	}
}

// withoutNodeNames: the endpoints do not say which node they run on.
func withoutNodeNames() labOpt {
	return func(l *lab) {
		for i := range l.slices[0].Endpoints {
			l.slices[0].Endpoints[i].NodeName = nil
		}
	}
}

func withFirewall(fw *compute.Firewall) labOpt {
	return func(l *lab) { l.cloud.Firewalls = append(l.cloud.Firewalls, fw) }
}

func to(addr string) func(*Input) { return func(in *Input) { in.To = netip.MustParseAddr(addr) } }
func port(p string) func(*Input)  { return func(in *Input) { in.Port = p } }

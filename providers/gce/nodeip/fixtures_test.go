package nodeip

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
)

// Builders for the fixtures: newNode("n1", internalIP("10.0.0.1")),
// newService("web", withPorts(80), local()).

var (
	testOwner   = ownership.ForCluster("test-cluster")
	testNetwork = "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/default"
	epoch       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func testDefaults() Defaults {
	return Defaults{
		Mode:         annotations.ModeExternal,
		AddressType:  v1.NodeInternalIP,
		SourceRanges: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
		ReservedPorts: []PortRange{{22, 22, v1.ProtocolTCP}, {2379, 2380, v1.ProtocolTCP}, {6443, 6443, v1.ProtocolTCP},
			{10250, 10250, v1.ProtocolTCP}, {10256, 10259, v1.ProtocolTCP}, {179, 179, v1.ProtocolTCP},
			{4789, 4789, v1.ProtocolUDP}, {6081, 6081, v1.ProtocolUDP}, {8472, 8472, v1.ProtocolUDP}, {51820, 51821, v1.ProtocolUDP}},
		NodePortRange: DefaultNodePortRange,
	}
}

func testFirewallName(uid string) string {
	return testOwner.ResourceName("lb", strings.ReplaceAll(uid, "-", "")) + "-nip"
}

func testFirewallNameIPv6(uid string) string {
	return testOwner.ResourceName("lb", strings.ReplaceAll(uid, "-", "")) + "-nip6"
}

func testRuleNames(uid string) ruleNames {
	return ruleNames{IPv4: testFirewallName(uid), IPv6: testFirewallNameIPv6(uid)}
}

type nodeOpt func(*v1.Node)

// newNode is a Ready node with no address; add them with options.
func newNode(name string, opts ...nodeOpt) *v1.Node {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Status:     v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func address(typ v1.NodeAddressType, ip string) nodeOpt {
	return func(n *v1.Node) {
		n.Status.Addresses = append(n.Status.Addresses, v1.NodeAddress{Type: typ, Address: ip})
	}
}
func internalIP(ip string) nodeOpt { return address(v1.NodeInternalIP, ip) }
func externalIP(ip string) nodeOpt { return address(v1.NodeExternalIP, ip) }

func notReady() nodeOpt { return readiness(v1.ConditionFalse) }
func readiness(s v1.ConditionStatus) nodeOpt {
	return func(n *v1.Node) { n.Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: s}} }
}
func withoutReadyCondition() nodeOpt { return func(n *v1.Node) { n.Status.Conditions = nil } }
func nodeLabel(k, v string) nodeOpt  { return func(n *v1.Node) { n.Labels[k] = v } }
func taint(key string) nodeOpt {
	return func(n *v1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: key, Effect: v1.TaintEffectNoSchedule})
	}
}
func nodeDeleting() nodeOpt {
	return func(n *v1.Node) {
		now := metav1.NewTime(epoch)
		n.DeletionTimestamp = &now
		n.Finalizers = []string{"example.com/hold"}
	}
}

type svcOpt func(*v1.Service)

// newService is a nodeip LoadBalancer Service (by annotation) in namespace
// default with a UID derived from its name, created at epoch.
func newService(name string, opts ...svcOpt) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: uidFor(name),
			CreationTimestamp: metav1.NewTime(epoch),
			Annotations:       map[string]string{annotations.Mode: annotations.ModeNodeIP}},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyCluster,
			IPFamilies: []v1.IPFamily{v1.IPv4Protocol}},
	}
	for _, o := range opts {
		o(s)
	}
	if len(s.Spec.Ports) == 0 {
		s.Spec.Ports = []v1.ServicePort{{Name: "tcp-80", Protocol: v1.ProtocolTCP, Port: 80}}
	}
	return s
}

// uidFor is a stable, valid UID for a name.
func uidFor(name string) types.UID {
	var sum uint64 = 14695981039346656037
	for _, b := range []byte(name) {
		sum = (sum ^ uint64(b)) * 1099511628211
	}
	return types.UID(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(sum>>32), uint16(sum>>16), uint16(sum)&0xfff, len(name)&0xfff, sum&0xffffffffffff))
}

func withPorts(ports ...int32) svcOpt { return withProtocolPorts(v1.ProtocolTCP, ports...) }
func withProtocolPorts(proto v1.Protocol, ports ...int32) svcOpt {
	return func(s *v1.Service) {
		for _, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: fmt.Sprintf("%s-%d", strings.ToLower(string(proto)), p), Protocol: proto, Port: p})
		}
	}
}
func annotated(k, v string) svcOpt      { return func(s *v1.Service) { s.Annotations[k] = v } }
func withoutAnnotation(k string) svcOpt { return func(s *v1.Service) { delete(s.Annotations, k) } }
func local() svcOpt {
	return func(s *v1.Service) { s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal }
}
func families(f ...v1.IPFamily) svcOpt { return func(s *v1.Service) { s.Spec.IPFamilies = f } }
func sourceRanges(r ...string) svcOpt {
	return func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = r }
}
func createdAt(d time.Duration) svcOpt {
	return func(s *v1.Service) { s.CreationTimestamp = metav1.NewTime(epoch.Add(d)) }
}

// nodeIPClass makes it a Service of the nodeip class, without the annotation.
func nodeIPClass() svcOpt {
	return func(s *v1.Service) {
		class := annotations.NodeIPClass
		s.Spec.LoadBalancerClass = &class
		delete(s.Annotations, annotations.Mode)
	}
}

func typeClusterIP() svcOpt { return func(s *v1.Service) { s.Spec.Type = v1.ServiceTypeClusterIP } }

// endpointSlice is the Service's slice with one endpoint per node; ready
// says which of them are ready.
func endpointSlice(svc, name string, ready map[string]bool) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	i := 0
	for node, r := range ready {
		i++
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.244.0.%d", i)},
			NodeName:   &node,
			Conditions: discoveryv1.EndpointConditions{Ready: &r},
		})
	}
	return s
}

func ips(in []v1.LoadBalancerIngress) []string {
	var out []string
	for _, e := range in {
		out = append(out, e.IP)
	}
	return out
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

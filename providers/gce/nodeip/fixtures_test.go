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
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// Fixtures: test/fixture's builders with this package's defaults, as in
// newNode("n1", fixture.InternalIP("10.0.0.1")) and
// newService("web", withPorts(80), fixture.Families(v1.IPv6Protocol)).

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
		NodePortRange: DefaultNodePortRange(),
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

// newNode is a Ready node with no address; add them with options.
func newNode(name string, opts ...fixture.NodeOption) *v1.Node { return fixture.Node(name, opts...) }

func taint(key string) fixture.NodeOption { return fixture.Taint(key, v1.TaintEffectNoSchedule) }
func nodeDeleting() fixture.NodeOption {
	return func(n *v1.Node) {
		now := metav1.NewTime(epoch)
		n.DeletionTimestamp = &now
		n.Finalizers = []string{"example.com/hold"}
	}
}

// newService is a nodeip LoadBalancer Service (by annotation) in namespace
// default with a UID derived from its name, created at epoch, on TCP port
// 80 unless an option gives ports.
func newService(name string, opts ...fixture.ServiceOption) *v1.Service {
	defaults := []fixture.ServiceOption{fixture.UID(string(uidFor(name))), createdAt(0),
		fixture.Annotation(annotations.Mode, annotations.ModeNodeIP), fixture.LoadBalancer(),
		fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyCluster), fixture.Families(v1.IPv4Protocol)}
	opts = append(append(defaults, opts...), fixture.PortsIfNone(v1.ServicePort{Name: "tcp-80", Protocol: v1.ProtocolTCP, Port: 80}))
	return fixture.Service(name, opts...)
}

// uidFor is a stable, valid UID for a name.
func uidFor(name string) types.UID {
	var sum uint64 = 14695981039346656037
	for _, b := range []byte(name) {
		sum = (sum ^ uint64(b)) * 1099511628211
	}
	return types.UID(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(sum>>32), uint16(sum>>16), uint16(sum)&0xfff, len(name)&0xfff, sum&0xffffffffffff))
}

func withPorts(ports ...int32) fixture.ServiceOption { return fixture.Ports(v1.ProtocolTCP, ports...) }
func createdAt(d time.Duration) fixture.ServiceOption {
	return func(s *v1.Service) { s.CreationTimestamp = metav1.NewTime(epoch.Add(d)) }
}

// nodeIPClass makes it a Service of the nodeip class, without the annotation.
func nodeIPClass() fixture.ServiceOption {
	return func(s *v1.Service) {
		fixture.Class(annotations.NodeIPClass)(s)
		fixture.WithoutAnnotation(annotations.Mode)(s)
	}
}

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

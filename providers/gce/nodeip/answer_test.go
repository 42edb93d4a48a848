package nodeip

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// decideFor runs the pure pipeline for svc, with others as the Services
// that might compete for its ports.
func decideFor(svc *v1.Service, nodes []*v1.Node, d Defaults, others ...*v1.Service) answer {
	sel, _ := nodeCeiling(d)
	c := candidateOf(svc, nodeInfosOf(nodes), nil, d, sel, clusterFacts{})
	var competitors []claim
	for _, o := range others {
		oc := candidateOf(o, nodeInfosOf(nodes), nil, d, sel, clusterFacts{})
		if older(oc.claim, c.claim) < 0 && len(oc.claim.Ports) > 0 {
			competitors = append(competitors, oc.claim)
		}
	}
	return decide(svc, c, competitors, testRuleNames(string(svc.UID)), ruleParams{Owner: testOwner, Network: testNetwork})
}

func TestDecide(t *testing.T) {
	nodes := []*v1.Node{
		newNode("a", fixture.InternalIP("10.0.0.1"), fixture.Label("pool", "edge")),
		newNode("b", fixture.InternalIP("10.0.0.2")),
		newNode("c", fixture.InternalIP("10.0.0.3"), fixture.NotReady()),
	}
	tests := []struct {
		name        string
		svc         *v1.Service
		defaults    func(*Defaults)
		others      []*v1.Service
		wantNodes   []string
		wantReason  string
		wantMessage string // a part of it
		wantRule    bool
	}{
		{
			name: "a Service publishes every eligible node and has a rule", svc: newService("web"),
			wantNodes: []string{"a", "b"}, wantRule: true,
		},
		{
			name: "the cloud config's node selector applies to every Service", svc: newService("web"),
			defaults:  func(d *Defaults) { d.NodeSelector = "pool=edge" },
			wantNodes: []string{"a"}, wantRule: true,
		},
		{
			name: "a Service's node selector annotation is added to the cloud config's, never put in its place",
			svc:  newService("web", fixture.Annotation(annotations.NodeSelector, "pool!=edge")), defaults: func(d *Defaults) { d.NodeSelector = "pool=edge" },
			wantReason: ReasonNoEligibleNodes, wantMessage: "No node is Ready",
		},
		{
			name: "a bad node selector is refused, naming the annotation", svc: newService("web", fixture.Annotation(annotations.NodeSelector, "pool in edge")),
			wantReason: ReasonInvalidSetting, wantMessage: annotations.NodeSelector,
		},
		{
			name: "a bad address type is refused, naming the annotation", svc: newService("web", fixture.Annotation(annotations.NodeAddressType, "Hostname")),
			wantReason: ReasonInvalidSetting, wantMessage: "use InternalIP or ExternalIP",
		},
		{
			name:       "an IPv6 Service whose source ranges are all IPv4 is refused, naming the field",
			svc:        newService("web", fixture.Families(v1.IPv6Protocol), fixture.SourceRanges("203.0.113.0/24")),
			wantReason: ReasonInvalidSetting, wantMessage: `spec.loadBalancerSourceRanges: "203.0.113.0/24" has no range of the Service's IP families (IPv6)`,
		},
		{
			name:       "an IPv4 Service whose annotated source ranges are all IPv6 is refused, naming the annotation",
			svc:        newService("web", fixture.Annotation(annotations.SourceRanges, "2001:db8::/32")),
			wantReason: ReasonInvalidSetting, wantMessage: annotations.SourceRanges,
		},
		{
			name: "an IPv6 Service under a default narrowed to IPv4 ranges is refused, naming the cloud config key",
			svc:  newService("web", fixture.Families(v1.IPv6Protocol)), defaults: func(d *Defaults) { d.SourceRanges = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} },
			wantReason: ReasonInvalidSetting, wantMessage: "[load-balancer] nodeip-source-ranges",
		},
		{
			name: "a reserved port is refused, naming the port", svc: newService("web", withPorts(80, 6443)),
			wantReason: ReasonReservedPort, wantMessage: "port TCP/6443 is reserved",
		},
		{
			name: "reserved ports come from the cloud config", svc: newService("web", withPorts(8080)),
			defaults:   func(d *Defaults) { d.ReservedPorts = []PortRange{{From: 8000, To: 8999}} },
			wantReason: ReasonReservedPort, wantMessage: "reserved range 8000-8999",
		},
		{
			name: "a newer Service on an older one's port is refused, naming the older one", svc: newService("new", createdAt(time.Hour)),
			others:     []*v1.Service{newService("old")},
			wantReason: ReasonPortConflict, wantMessage: "by Service default/old",
		},
		{
			name: "the older Service keeps its port", svc: newService("old"),
			others:    []*v1.Service{newService("new", createdAt(time.Hour))},
			wantNodes: []string{"a", "b"}, wantRule: true,
		},
		{
			name:      "Services on the same port but disjoint node selectors both publish",
			svc:       newService("new", createdAt(time.Hour), fixture.Annotation(annotations.NodeSelector, "pool=edge")),
			others:    []*v1.Service{newService("old", fixture.Annotation(annotations.NodeSelector, "pool!=edge"))},
			wantNodes: []string{"a"}, wantRule: true,
		},
		{
			name: "the address cap publishes a subset", svc: newService("web", fixture.Annotation(annotations.MaxAddresses, "1")),
			wantNodes: []string{"a"}, wantRule: true,
		},
		{
			name:       "with no eligible node nothing is published, and it says so without a warning",
			svc:        newService("web", fixture.Annotation(annotations.NodeSelector, "pool=none")),
			wantReason: ReasonNoEligibleNodes, wantMessage: "No node is Ready",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefaults()
			if tt.defaults != nil {
				tt.defaults(&d)
			}
			a := decideFor(tt.svc, nodes, d, tt.others...)
			if diff := cmp.Diff(tt.wantNodes, nodeNames(a.Targets)); diff != "" {
				t.Errorf("published nodes (-want +got):\n%s", diff)
			}
			gotReason := ""
			if a.Problem != nil {
				gotReason = a.Problem.Reason
				if !strings.Contains(a.Problem.Message, tt.wantMessage) {
					t.Errorf("message %q does not say %q", a.Problem.Message, tt.wantMessage)
				}
			}
			if gotReason != tt.wantReason {
				t.Errorf("reason = %q, want %q", gotReason, tt.wantReason)
			}
			if (len(a.Rules) > 0) != tt.wantRule {
				t.Errorf("rules = %v, want a rule: %v", a.Rules, tt.wantRule)
			}
		})
	}
}

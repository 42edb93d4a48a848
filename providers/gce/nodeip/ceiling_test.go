package nodeip

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

const (
	controlPlaneLabel = "node-role.kubernetes.io/control-plane"
	legacyMasterLabel = "node-role.kubernetes.io/master"
)

// ceilingNodes: edge (pool=edge), cp (pool=edge, a control plane),
// master (pool=edge, the legacy control-plane label) and plain (no pool).
func ceilingNodes() []*v1.Node {
	return []*v1.Node{
		newNode("cp", fixture.InternalIP("10.0.0.2"), fixture.Label("pool", "edge"), fixture.Label(controlPlaneLabel, "")),
		newNode("edge", fixture.InternalIP("10.0.0.1"), fixture.Label("pool", "edge")),
		newNode("master", fixture.InternalIP("10.0.0.4"), fixture.Label("pool", "edge"), fixture.Label(legacyMasterLabel, "true")),
		newNode("plain", fixture.InternalIP("10.0.0.3")),
	}
}

func TestTheOperatorsNodeSelectorIsACeiling(t *testing.T) {
	tests := []struct {
		name         string
		operator     string
		controlPlane bool
		annotation   *string
		want         []string
		wantNote     string // a part of the note; "" for none
	}{
		{name: "without the annotation the operator's selector applies and control planes are left out",
			operator: "pool=edge", want: []string{"edge"}},
		{name: "an empty annotation does not widen the operator's selector, nor reach the control planes",
			operator: "pool=edge", annotation: ptr(""), want: []string{"edge"},
			wantNote: "cp, master, plain"},
		{name: "an annotation is intersected with the operator's selector",
			operator: "pool=edge", annotation: ptr("pool!=edge"),
			wantNote: "plain"},
		{name: "an annotation within the operator's selector is told of the control planes it does not reach",
			operator: "", annotation: ptr("pool=edge"), want: []string{"edge"}, wantNote: "cp, master"},
		{name: "an annotation within every limit is not told anything",
			operator: "", annotation: ptr("pool=edge,!" + controlPlaneLabel + ",!" + legacyMasterLabel), want: []string{"edge"}},
		{name: "with no operator selector, control planes are still left out",
			operator: "", want: []string{"edge", "plain"}},
		{name: "a selector that names the control-plane label does not reach them",
			operator: "", annotation: ptr(controlPlaneLabel), wantNote: "cp"},
		{name: "the operator may publish control planes",
			operator: "pool=edge", controlPlane: true, annotation: ptr(""), want: []string{"cp", "edge", "master"},
			wantNote: "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefaults()
			d.NodeSelector, d.PublishControlPlane = tt.operator, tt.controlPlane
			svc := newService("web")
			if tt.annotation != nil {
				svc.Annotations[annotations.NodeSelector] = *tt.annotation
			}
			a := decideFor(svc, ceilingNodes(), d)
			if a.Problem != nil && (len(tt.want) > 0 || a.Problem.Reason != ReasonNoEligibleNodes) {
				t.Fatalf("problem: %+v", a.Problem)
			}
			if diff := cmp.Diff(tt.want, nodeNames(a.Targets)); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
			checkNote(t, a.Notes, ReasonNarrowed, tt.wantNote)
		})
	}
}

func TestTheOperatorsSourceRangesAreACeiling(t *testing.T) {
	tests := []struct {
		name      string
		operator  []string
		svc       []fixture.ServiceOption
		wantIPv4  []string
		wantNote  string // a part of the note; "" for none
		noteKind  string
		wantError string // a part of the problem; "" for none
	}{
		{name: "a Service that names no range gets the operator's",
			operator: []string{"10.0.0.0/8"}, wantIPv4: []string{"10.0.0.0/8"}},
		{name: "a Service that widens to anywhere is cut to the operator's ranges, and told",
			operator: []string{"10.0.0.0/8"}, svc: []fixture.ServiceOption{fixture.SourceRanges("0.0.0.0/0")},
			wantIPv4: []string{"10.0.0.0/8"}, noteKind: ReasonNarrowed, wantNote: "0.0.0.0/0 is narrowed to 10.0.0.0/8"},
		{name: "a Service's range inside the operator's is kept",
			operator: []string{"10.0.0.0/8"}, svc: []fixture.ServiceOption{fixture.SourceRanges("10.1.0.0/16")}, wantIPv4: []string{"10.1.0.0/16"}},
		{name: "a Service whose ranges all lie outside the operator's serves no one",
			operator: []string{"10.0.0.0/8"}, svc: []fixture.ServiceOption{fixture.SourceRanges("203.0.113.0/24")},
			wantError: "outside the ranges the cluster allows ([load-balancer] nodeip-source-ranges: 10.0.0.0/8)"},
		{name: "the annotation is capped as the field is",
			operator: []string{"10.0.0.0/8"}, svc: []fixture.ServiceOption{fixture.Annotation(annotations.SourceRanges, "0.0.0.0/0")},
			wantIPv4: []string{"10.0.0.0/8"}, noteKind: ReasonNarrowed, wantNote: annotations.SourceRanges},
		{name: "a dual-stack Service with IPv4 ranges only is told IPv6 is closed",
			operator: []string{"0.0.0.0/0"}, svc: []fixture.ServiceOption{fixture.Families(v1.IPv4Protocol, v1.IPv6Protocol), fixture.SourceRanges("203.0.113.0/24")},
			wantIPv4: []string{"203.0.113.0/24"}, noteKind: ReasonIPFamilyClosed, wantNote: "No IPv6 client may connect"},
		{name: "a dual-stack Service under an IPv4-only ceiling is told IPv6 is closed by the cluster",
			operator: []string{"10.0.0.0/8"}, svc: []fixture.ServiceOption{fixture.Families(v1.IPv4Protocol, v1.IPv6Protocol)},
			wantIPv4: []string{"10.0.0.0/8"}, noteKind: ReasonIPFamilyClosed, wantNote: "[load-balancer] nodeip-source-ranges names no IPv6 range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefaults()
			d.SourceRanges = nil
			for _, r := range tt.operator {
				d.SourceRanges = append(d.SourceRanges, netip.MustParsePrefix(r))
			}
			a := decideFor(newService("web", tt.svc...), ceilingNodes(), d)
			if tt.wantError != "" {
				if a.Problem == nil || !strings.Contains(a.Problem.Message, tt.wantError) {
					t.Fatalf("problem = %+v, want one saying %q", a.Problem, tt.wantError)
				}
				return
			}
			if a.Problem != nil {
				t.Fatalf("problem: %+v", a.Problem)
			}
			// The nodes have IPv4 addresses only: the IPv4 rule says where
			// clients may come from.
			if len(a.Rules) != 1 {
				t.Fatalf("rules = %+v, want the IPv4 one", a.Rules)
			}
			if diff := cmp.Diff(tt.wantIPv4, a.Rules[0].SourceRanges); diff != "" {
				t.Errorf("IPv4 sources (-want +got):\n%s", diff)
			}
			checkNote(t, a.Notes, tt.noteKind, tt.wantNote)
		})
	}
}

func checkNote(t *testing.T, notes []note, reason, part string) {
	t.Helper()
	if part == "" {
		if len(notes) != 0 {
			t.Errorf("notes = %+v, want none", notes)
		}
		return
	}
	if !slices.ContainsFunc(notes, func(n note) bool { return n.Reason == reason && strings.Contains(n.Message, part) }) {
		t.Errorf("notes = %+v, want a %s one saying %q", notes, reason, part)
	}
}

func ptr[T any](v T) *T { return &v }

// The attacks of a tenant against the operator's limits, end to end: the
// controller against fake-gce.
func TestATenantCannotWidenTheOperatorsLimits(t *testing.T) {
	var objs []runtime.Object
	for _, n := range ceilingNodes() {
		objs = append(objs, n)
	}
	wide := newService("wide", fixture.SourceRanges("0.0.0.0/0"))
	everywhere := newService("everywhere", withPorts(81), fixture.Annotation(annotations.NodeSelector, ""))
	h := startHarness(t, objects(objs, []runtime.Object{wide, everywhere}), withDeps(func(d *Deps) {
		d.Defaults.SourceRanges = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		d.Defaults.NodeSelector = "pool=edge"
	}))
	h.waitFor(wide, []string{"10.0.0.1"}, []string{"10.0.0.1"})
	h.processed()
	if got := h.rule(wide).SourceRanges; !slices.Equal(got, []string{"10.0.0.0/8"}) {
		t.Errorf("the rule of a Service asking for 0.0.0.0/0 opens to %v, want the operator's 10.0.0.0/8 only", got)
	}
	h.waitForEvent("wide", v1.EventTypeWarning, ReasonNarrowed, "0.0.0.0/0 is narrowed to 10.0.0.0/8")
	if c := h.condition("wide"); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "narrowed") {
		t.Errorf("condition = %+v, want True saying the ranges were narrowed", c)
	}

	// An empty node selector selects every node: the operator's selector
	// and the control-plane rule still hold.
	h.waitFor(everywhere, []string{"10.0.0.1"}, []string{"10.0.0.1"})
	h.waitForEvent("everywhere", v1.EventTypeWarning, ReasonNarrowed, "cp, master, plain")
}

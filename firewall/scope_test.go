package firewall_test

import (
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// serviceRule is a rule named as the load balancer modes name a Service's
// rules (BASE-SUFFIX), marked by cluster c; mode "" leaves out the mode key,
// as rules written before it existed do.
func serviceRule(c ownership.Cluster, uid, suffix, mode string) *compute.Firewall {
	keys := map[string]string{ownership.ServiceKey: "default/web", ownership.ServiceUIDKey: uid}
	if mode != "" {
		keys[ownership.ModeKey] = mode
	}
	base := c.ResourceName("lb", strings.ReplaceAll(uid, "-", ""))
	return observed(newRule("web", uid, func(r *firewall.Rule) {
		r.Name, r.Description = base+"-"+suffix, c.Description(keys)
	}))
}

func TestAScopeCoversTheRulesOfItsServiceAndModeOnly(t *testing.T) {
	other := ownership.ForCluster("prod-west")
	external, nodeIP := firewall.ForService(webUID), firewall.ForNodeIP(webUID)
	tests := []struct {
		name  string
		rule  *compute.Firewall
		scope firewall.Scope
		want  bool // deleted when no desired rule names it
	}{
		{name: "a nodeip rule that records its mode is the nodeip scope's", rule: serviceRule(owner, webUID, "nip", ownership.ModeNodeIP), scope: nodeIP, want: true},
		{name: "a nodeip rule that records its mode is not the external scope's", rule: serviceRule(owner, webUID, "nip", ownership.ModeNodeIP), scope: external, want: false},
		{name: "an external rule that records its mode is the external scope's", rule: serviceRule(owner, webUID, "fw", ownership.ModeExternal), scope: external, want: true},
		{name: "an external rule that records its mode is not the nodeip scope's", rule: serviceRule(owner, webUID, "hc", ownership.ModeExternal), scope: nodeIP, want: false},
		{name: "an older IPv4 nodeip rule, without the key, is the nodeip scope's by its name", rule: serviceRule(owner, webUID, "nip", ""), scope: nodeIP, want: true},
		{name: "an older IPv6 nodeip rule, without the key, is the nodeip scope's by its name", rule: serviceRule(owner, webUID, "nip6", ""), scope: nodeIP, want: true},
		{name: "an older nodeip rule is not the external scope's", rule: serviceRule(owner, webUID, "nip6", ""), scope: external, want: false},
		{name: "an older client rule is the external scope's", rule: serviceRule(owner, webUID, "fw", ""), scope: external, want: true},
		{name: "an older health-check rule is not the nodeip scope's", rule: serviceRule(owner, webUID, "hc6", ""), scope: nodeIP, want: false},
		{name: "another Service's rule is in neither scope (external)", rule: serviceRule(owner, apiUID, "fw", ownership.ModeExternal), scope: external, want: false},
		{name: "another Service's rule is in neither scope (nodeip)", rule: serviceRule(owner, apiUID, "nip", ""), scope: nodeIP, want: false},
		{name: "another cluster's rule of the same Service UID is left alone", rule: serviceRule(other, webUID, "nip", ownership.ModeNodeIP), scope: nodeIP, want: false},
		{name: "the zero scope covers nothing", rule: serviceRule(owner, webUID, "fw", ownership.ModeExternal), scope: firewall.Scope{}, want: false},
		{name: "a scope without a mode covers nothing", rule: serviceRule(owner, webUID, "fw", ""), scope: firewall.Scope{ServiceUID: webUID}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := firewall.Diff(nil, firewalls(tt.rule), owner, tt.scope)
			if got := len(plan.Deletes) == 1; got != tt.want || len(plan.Deletes) > 1 {
				t.Errorf("Diff deletes %v, want the rule deleted: %v", plan.Deletes, tt.want)
			}
		})
	}
}

func TestARuleWrittenBeforeTheModeKeyIsNotPatchedForIt(t *testing.T) {
	for _, tc := range []struct {
		suffix, mode string
		scope        firewall.Scope
	}{
		{"fw", ownership.ModeExternal, firewall.ForService(webUID)},
		{"nip", ownership.ModeNodeIP, firewall.ForNodeIP(webUID)},
	} {
		old := serviceRule(owner, webUID, tc.suffix, "")
		desired := firewall.FromFirewall(serviceRule(owner, webUID, tc.suffix, tc.mode))
		if plan := firewall.Diff(rules(desired), firewalls(old), owner, tc.scope); !plan.Empty() {
			t.Errorf("%s: plan = %+v, want none: the key alone is no change", old.Name, plan)
		}
		// A real change writes the key with it.
		desired.SourceRanges = []string{"10.0.0.0/8"}
		plan := firewall.Diff(rules(desired), firewalls(old), owner, tc.scope)
		if len(plan.Patches) != 1 || !strings.Contains(plan.Patches[0].Rule.Description, ownership.ModeKey) {
			t.Errorf("%s: patches = %+v, want one that writes the mode key", old.Name, plan.Patches)
		}
	}
}

func TestSameDescription(t *testing.T) {
	d := func(keys ...string) string {
		m := map[string]string{ownership.ServiceUIDKey: webUID}
		for i := 0; i+1 < len(keys); i += 2 {
			m[keys[i]] = keys[i+1]
		}
		return owner.Description(m)
	}
	for _, tc := range []struct {
		name string
		a, b string
		want bool
	}{
		{"equal strings", d(), d(), true},
		{"the same keys in another order and spacing", `{"cloud-provider-vpc.io/service-uid": "` + webUID + `", "cloud-provider-vpc.io/cluster": "prod-east"}`, d(), true},
		{"one without the mode key", d(), d(ownership.ModeKey, ownership.ModeNodeIP), true},
		{"two modes", d(ownership.ModeKey, ownership.ModeExternal), d(ownership.ModeKey, ownership.ModeNodeIP), false},
		{"another Service", d(), owner.Description(map[string]string{ownership.ServiceUIDKey: apiUID, ownership.ModeKey: ownership.ModeNodeIP}), false},
		{"free text", "opened by hand", d(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := firewall.SameDescription(tc.a, tc.b); got != tc.want {
				t.Errorf("SameDescription(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := firewall.SameDescription(tc.b, tc.a); got != tc.want {
				t.Errorf("SameDescription(%s, %s) = %v, want %v (reversed)", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

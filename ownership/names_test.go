package ownership

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// serviceUID and nodeUID are the UIDs the name tests derive names from.
const (
	serviceUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	nodeUID    = "5d6e7f80-1111-2222-3333-444455556666"
)

// clusterNames are every name a cluster and one of its Services have.
type clusterNames struct {
	Prefix, Base, SharedHealthCheck, InstanceGroup, Route, RouteIPv6        string
	ClientFW, ClientFW6, HealthCheckFW, HealthCheckFW6, NodeIPFW, NodeIPFW6 string
	IPv6Address, Pool, AffinityPool, TCPRule, UDPRule, L3Rule, TCPRuleIPv6  string
	ServiceFilter, NodeIPFilter, LoadBalancersFilter                        string
}

func namesOf(c Cluster) clusterNames {
	base := c.LoadBalancerBase(serviceUID)
	return clusterNames{
		Prefix: c.Prefix(), Base: base, SharedHealthCheck: c.SharedHealthCheckName(),
		InstanceGroup: c.InstanceGroupName("us-central1-a"), Route: c.RouteName(nodeUID), RouteIPv6: c.RouteNameIPv6(nodeUID),
		ClientFW: ClientFirewallName(base), ClientFW6: ClientFirewallNameIPv6(base),
		HealthCheckFW: HealthCheckFirewallName(base), HealthCheckFW6: HealthCheckFirewallNameIPv6(base),
		NodeIPFW: NodeIPFirewallName(base), NodeIPFW6: NodeIPFirewallNameIPv6(base),
		IPv6Address: IPv6AddressName(base), Pool: PoolName(base, "NONE"), AffinityPool: PoolName(base, "CLIENT_IP"),
		TCPRule: ForwardingRuleName(base, "TCP"), UDPRule: ForwardingRuleName(base, "UDP"), L3Rule: L3ForwardingRuleName(base),
		TCPRuleIPv6:   IPv6ForwardingRuleName(ForwardingRuleName(base, "TCP")),
		ServiceFilter: ServiceResourcesFilter(base), NodeIPFilter: NodeIPFirewallsFilter(base), LoadBalancersFilter: c.LoadBalancersFilter(),
	}
}

// The exact names: resources made by earlier releases are found by them,
// so a change here orphans them.
func TestNamesAreTheOnesExistingResourcesHave(t *testing.T) {
	tests := []struct {
		name    string
		cluster Cluster
		want    clusterNames
	}{
		{
			name:    "the default cluster name",
			cluster: ForCluster("kubernetes"),
			want: clusterNames{
				Prefix: "cpv-kubernetes-94ab-", Base: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
				SharedHealthCheck: "cpv-kubernetes-94ab-hc-kube-proxy", InstanceGroup: "cpv-kubernetes-94ab-ig-us-central1-a",
				Route:     "cpv-kubernetes-94ab-r-5d6e7f80-1111-2222-3333-444455556666",
				RouteIPv6: "cpv-kubernetes-94ab-r-5d6e7f80-1111-2222-3333-444455556666-v6",
				ClientFW:  "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-fw", ClientFW6: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-fw6",
				HealthCheckFW: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-hc", HealthCheckFW6: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-hc6",
				NodeIPFW: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-nip", NodeIPFW6: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-nip6",
				IPv6Address: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-v6",
				Pool:        "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0", AffinityPool: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-ca",
				TCPRule: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-tcp", UDPRule: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-udp",
				L3Rule: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-l3", TCPRuleIPv6: "cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-tcp-v6",
				ServiceFilter:       "name eq cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-.*",
				NodeIPFilter:        "name eq cpv-kubernetes-94ab-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-nip.*",
				LoadBalancersFilter: "name eq cpv-kubernetes-94ab-lb-.*",
			},
		},
		{
			name:    "a cluster of a Shared VPC service project",
			cluster: ForCluster("prod-eu").InServiceProject("svc-project-1"),
			want: clusterNames{
				Prefix: "cpv-prod-eu-2ce9-", Base: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
				SharedHealthCheck: "cpv-prod-eu-2ce9-hc-kube-proxy", InstanceGroup: "cpv-prod-eu-2ce9-ig-us-central1-a",
				Route:     "cpv-prod-eu-2ce9-r-5d6e7f80-1111-2222-3333-444455556666",
				RouteIPv6: "cpv-prod-eu-2ce9-r-5d6e7f80-1111-2222-3333-444455556666-v6",
				ClientFW:  "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-fw", ClientFW6: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-fw6",
				HealthCheckFW: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-hc", HealthCheckFW6: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-hc6",
				NodeIPFW: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-nip", NodeIPFW6: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-nip6",
				IPv6Address: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-v6",
				Pool:        "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0", AffinityPool: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-ca",
				TCPRule: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-tcp", UDPRule: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-udp",
				L3Rule: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-l3", TCPRuleIPv6: "cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-tcp-v6",
				ServiceFilter:       "name eq cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-.*",
				NodeIPFilter:        "name eq cpv-prod-eu-2ce9-lb-0f1e2d3c4b5a69788796a5b4c3d2e1f0-nip.*",
				LoadBalancersFilter: "name eq cpv-prod-eu-2ce9-lb-.*",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, namesOf(tt.cluster)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

// The longest prefix (20 characters) with a full UID and the longest
// suffixes still makes valid names within the API's 63 characters.
func TestEveryNameOfTheLongestPrefixIsAValidComputeName(t *testing.T) {
	for _, cluster := range []string{"Prod_Cluster.Example.COM--very-long-name-indeed", "kubernetes", "prod-eu", ""} {
		c := ForCluster(cluster)
		names := namesOf(c)
		all := []string{names.Base, names.SharedHealthCheck, names.Route, names.RouteIPv6,
			c.InstanceGroupName("northamerica-northeast1-a"), names.ClientFW, names.ClientFW6, names.HealthCheckFW,
			names.HealthCheckFW6, names.NodeIPFW, names.NodeIPFW6, names.IPv6Address, names.AffinityPool,
			names.TCPRule, names.UDPRule, names.L3Rule, names.TCPRuleIPv6}
		for _, n := range all {
			if !validName.MatchString(n) || len(n) > maxNameLen {
				t.Errorf("cluster %q: %q (%d characters) is not a valid compute name", cluster, n, len(n))
			}
			if !c.Owns(n, c.Description(nil)) {
				t.Errorf("cluster %q does not own its resource %q", cluster, n)
			}
		}
	}
	if p := ForCluster("Prod_Cluster.Example.COM--very-long-name-indeed").Prefix(); p != "cpv-prod-clust-13d6-" || len(p) != 20 {
		t.Errorf("the longest prefix is %q, want cpv-prod-clust-13d6- (20 characters)", p)
	}
}

func TestAServiceResourceIsTheBaseOrABaseWithASuffix(t *testing.T) {
	const base = "cpv-kubernetes-94ab-lb-0f1e"
	tests := []struct {
		name, resource string
		want           bool
	}{
		{"the base name itself", base, true},
		{"a suffixed name", base + "-fw", true},
		{"a longer UID that starts the same", base + "99", false},
		{"another Service", "cpv-kubernetes-94ab-lb-aaaa-fw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsServiceResource(tt.resource, base); got != tt.want {
				t.Errorf("IsServiceResource(%q) = %v, want %v", tt.resource, got, tt.want)
			}
		})
	}
}

func TestTheNodeIPRulesAreTheOnlyOnesTheirSuffixMarks(t *testing.T) {
	base := ForCluster("kubernetes").LoadBalancerBase(serviceUID)
	for name, want := range map[string]string{
		NodeIPFirewallName(base): ModeNodeIP, NodeIPFirewallNameIPv6(base): ModeNodeIP,
		ClientFirewallName(base): ModeExternal, HealthCheckFirewallNameIPv6(base): ModeExternal,
	} {
		if got := FirewallMode(name, nil); got != want {
			t.Errorf("FirewallMode(%q) = %q, want %q", strings.TrimPrefix(name, base), got, want)
		}
	}
}

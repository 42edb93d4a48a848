package nlb

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

var testParams = Params{
	Owner: ownership.ForCluster("test"), Project: "p1", Region: "us-central1",
	NetworkURL: "https://www.googleapis.com/compute/v1/projects/p1/global/networks/vpc",
	NodeTags:   []string{"k8s-node"}, HealthCheckRanges: []netip.Prefix{netip.MustParsePrefix("35.191.0.0/16")},
}

func TestDesire(t *testing.T) {
	svc := newService("web")
	base := testParams.Owner.LoadBalancerBase(string(svc.UID))
	shared := HealthCheck{Name: testParams.Owner.SharedHealthCheckName(), Port: 10256, Path: "/healthz", Shared: true}
	tests := []struct {
		name  string
		svc   *v1.Service
		nodes []*v1.Node
		check func(t *testing.T, d *Desired)
	}{
		{name: "a plain TCP Service gets an owned address, the shared health check and one TCP rule",
			svc: newService("web"), nodes: nodesFor("us-central1-b", "n2", "n1"),
			check: func(t *testing.T, d *Desired) {
				want := &Desired{Service: "default/web", UID: string(svc.UID), Base: base, Description: d.Description,
					Address:     Address{Name: base, Tier: "PREMIUM"},
					HealthCheck: shared,
					Pool:        Pool{Name: base, SessionAffinity: "NONE", Instances: []string{"https://www.googleapis.com/compute/v1/projects/fake-project/zones/us-central1-b/instances/n1", "https://www.googleapis.com/compute/v1/projects/fake-project/zones/us-central1-b/instances/n2"}},
					Rules:       []ForwardingRule{{Name: base + "-tcp", Protocol: "TCP", PortRange: "80-80", Ports: []int{80}, Tier: "PREMIUM"}},
					Backend:     BackendTargetPool,
					Scheme:      "EXTERNAL",
					Families:    []v1.IPFamily{v1.IPv4Protocol},
					Groups: map[string][]string{"us-central1-b": {"https://www.googleapis.com/compute/v1/projects/fake-project/zones/us-central1-b/instances/n1",
						"https://www.googleapis.com/compute/v1/projects/fake-project/zones/us-central1-b/instances/n2"}},
				}
				if diff := cmp.Diff(want, d, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}},
		{name: "TCP and UDP ports make two rules, each over its own range",
			svc: newService("dns", fixture.Ports("UDP", 53, 5353), fixture.Ports("TCP", 53, 8053)),
			check: func(t *testing.T, d *Desired) {
				if len(d.Rules) != 2 || d.Rules[0].PortRange != "53-8053" || d.Rules[1].PortRange != "53-5353" {
					t.Errorf("rules = %+v", d.Rules)
				}
			}},
		{name: "externalTrafficPolicy Local checks the Service's own health-check node port",
			svc: newService("web", fixture.LocalTraffic(31000)),
			check: func(t *testing.T, d *Desired) {
				if d.HealthCheck != (HealthCheck{Name: base, Port: 31000, Path: "/healthz"}) {
					t.Errorf("health check = %+v", d.HealthCheck)
				}
			}},
		{name: "ClientIP affinity maps to CLIENT_IP",
			svc: newService("web", fixture.ClientIPAffinity()),
			check: func(t *testing.T, d *Desired) {
				if d.Pool.SessionAffinity != "CLIENT_IP" || ownership.PoolName(d.Base, d.Pool.SessionAffinity) != base+"-ca" {
					t.Errorf("pool = %+v", d.Pool)
				}
			}},
		{name: "the Standard tier annotation and a static address",
			svc: newService("web", fixture.Annotation(annotations.NetworkTier, "Standard"), fixture.Annotation(annotations.StaticAddress, "my-ip")),
			check: func(t *testing.T, d *Desired) {
				if d.Address != (Address{Name: "my-ip", UserOwned: true, Tier: "STANDARD"}) || d.Rules[0].Tier != "STANDARD" {
					t.Errorf("address = %+v, rule tier %s", d.Address, d.Rules[0].Tier)
				}
			}},
		{name: "nodes without a providerID are not in the pool yet",
			svc: newService("web"), nodes: append(nodesFor("us-central1-a", "n1"), &v1.Node{}),
			check: func(t *testing.T, d *Desired) {
				if len(d.Pool.Instances) != 1 {
					t.Errorf("instances = %v", d.Pool.Instances)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Desire(tt.svc, tt.nodes, testParams)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, d)
		})
	}
}

func TestDesireRefusesBadServices(t *testing.T) {
	tests := []struct {
		name string
		svc  *v1.Service
		want string
	}{
		{name: "an unknown network tier", svc: newService("web", fixture.Annotation(annotations.NetworkTier, "Gold")),
			want: `cloud.google.com/network-tier: "Gold" is not a network tier: use Premium or Standard`},
		{name: "a bad static address name", svc: newService("web", fixture.Annotation(annotations.StaticAddress, "My_IP")),
			want: `cloud-provider-vpc.io/static-address: "My_IP" is not an address name (lowercase letters, digits and hyphens)`},
		{name: "a bad source range", svc: newService("web", fixture.SourceRanges("10.0.0.0/33")),
			want: `spec.loadBalancerSourceRanges: "10.0.0.0/33" is not a CIDR range such as 203.0.113.0/24`},
		{name: "a bad loadBalancerIP", svc: newService("web", fixture.LoadBalancerIP("not-an-ip")),
			want: `spec.loadBalancerIP: "not-an-ip" is not an IP address`},
		{name: "an SCTP port", svc: newService("web", fixture.Ports("SCTP", 9)),
			want: `spec.ports: "sctp-9/SCTP" uses a protocol the external network load balancer does not carry: use TCP or UDP`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Desire(tt.svc, nil, testParams)
			var ae *annotations.Error
			if !errors.As(err, &ae) || err.Error() != tt.want {
				t.Errorf("err = %v\nwant   %s", err, tt.want)
			}
		})
	}
}

func TestHealthCheckFirewallsOpenToTheCheckersOfTheSchemeAndFamily(t *testing.T) {
	// GCE's probe ranges per load balancer ("probe IP ranges and firewall
	// rules", https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges).
	externalV4 := []string{"35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}
	externalV6 := []string{"2600:1901:8001::/48"}
	internalV4 := []string{"35.191.0.0/16", "130.211.0.0/22"}
	internalV6 := []string{"2600:2d00:1:b029::/64"}
	params := testParams
	params.SubnetworkURL = "https://www.googleapis.com/compute/v1/projects/p1/regions/us-central1/subnetworks/nodes"
	gceRanges := params
	gceRanges.HealthCheckRanges = nil
	configured := params
	configured.HealthCheckRanges = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/64")}
	configuredV4Only := params
	configuredV4Only.HealthCheckRanges = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	external := newService("web", fixture.Ports("TCP", 80))
	targetPool := newService("web", fixture.Ports("TCP", 80), fixture.Annotation(annotations.Backend, BackendTargetPool))
	internal := newService("web", fixture.Ports("TCP", 80), fixture.Annotation(annotations.GKELoadBalancerType, "Internal"))
	for _, tc := range []struct {
		name   string
		svc    *v1.Service
		params Params
		v4, v6 []string
	}{
		{"an external load balancer on a backend service opens to the external passthrough checkers", external, gceRanges, externalV4, externalV6},
		{"an external load balancer on a target pool opens to the same checkers (legacy health checks)", targetPool, gceRanges, externalV4, externalV6},
		{"an internal load balancer opens to the internal passthrough checkers", internal, gceRanges, internalV4, internalV6},
		{"the config's ranges replace both families' for an external load balancer", external, configured, []string{"10.0.0.0/8"}, []string{"2001:db8:1::/64"}},
		{"the config's ranges replace both families' for an internal load balancer", internal, configured, []string{"10.0.0.0/8"}, []string{"2001:db8:1::/64"}},
		{"config ranges of IPv4 only leave the scheme's IPv6 checkers", external, configuredV4Only, []string{"10.0.0.0/8"}, externalV6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Desire(tc.svc, nil, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			v4 := d.Firewalls(tc.params, "10.128.0.50")
			v6 := d.FirewallsIPv6(tc.params, "2001:db8::1")
			if diff := cmp.Diff(tc.v4, v4[len(v4)-1].SourceRanges); diff != "" {
				t.Errorf("-hc sources (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.v6, v6[len(v6)-1].SourceRanges); diff != "" {
				t.Errorf("-hc6 sources (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFirewallsOpenExactlyTheServicePorts(t *testing.T) {
	d, err := Desire(newService("web", fixture.Ports("TCP", 80, 8080), fixture.Ports("UDP", 53), fixture.SourceRanges("198.51.100.0/24")), nil, testParams)
	if err != nil {
		t.Fatal(err)
	}
	fws := d.Firewalls(testParams, "203.0.113.7")
	want := []firewall.Rule{{
		Name: d.Base + "-fw", Network: testParams.NetworkURL, Direction: "INGRESS", Priority: 1000,
		SourceRanges: []string{"198.51.100.0/24"}, DestinationRanges: []string{"203.0.113.7/32"}, TargetTags: []string{"k8s-node"},
		Allowed: []firewall.Allow{{Protocol: "tcp", Ports: []string{"80", "8080"}}, {Protocol: "udp", Ports: []string{"53"}}}, Description: d.Description,
	}, {
		Name: d.Base + "-hc", Network: testParams.NetworkURL, Direction: "INGRESS", Priority: 1000,
		SourceRanges: []string{"35.191.0.0/16"}, TargetTags: []string{"k8s-node"},
		Allowed: []firewall.Allow{{Protocol: "tcp", Ports: []string{"10256"}}}, Description: d.Description,
	}}
	if diff := cmp.Diff(want, fws); diff != "" {
		t.Errorf("firewalls (-want +got):\n%s", diff)
	}
}

package firewall_test

import (
	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

var owner = ownership.ForCluster("prod-east")

const (
	defaultNetwork = "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/default"
	otherNetwork   = "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/other"
	webUID         = "0b9a6c1e-5d1f-4a53-9c1e-6b2f9f0c4a11"
	apiUID         = "7f3e2d10-8a4b-4c2e-b1d0-2e5f6a7b8c99"
)

type ruleOption func(*firewall.Rule)

// newRule is an ingress rule of the Service uid, owned by owner, that lets
// tcp/80 in from anywhere to nodes tagged "node".
func newRule(name, uid string, opts ...ruleOption) firewall.Rule {
	r := firewall.Rule{
		Name:         owner.ResourceName("fw", name),
		Network:      defaultNetwork,
		Direction:    firewall.Ingress,
		Priority:     1000,
		SourceRanges: []string{"0.0.0.0/0"},
		TargetTags:   []string{"node"},
		Allowed:      []firewall.Allow{{Protocol: "tcp", Ports: []string{"80"}}},
		Description:  owner.Description(map[string]string{ownership.ServiceUIDKey: uid, ownership.ServiceKey: "default/" + name}),
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func withSourceRanges(ranges ...string) ruleOption {
	return func(r *firewall.Rule) { r.SourceRanges = ranges }
}

func withTargetTags(tags ...string) ruleOption {
	return func(r *firewall.Rule) { r.TargetTags = tags }
}

func withAllowed(allowed ...firewall.Allow) ruleOption {
	return func(r *firewall.Rule) { r.Allowed = allowed }
}

func withPorts(protocol string, ports ...string) ruleOption {
	return withAllowed(firewall.Allow{Protocol: protocol, Ports: ports})
}

func withNetwork(link string) ruleOption {
	return func(r *firewall.Rule) { r.Network = link }
}

func withDirection(d string) ruleOption {
	return func(r *firewall.Rule) {
		r.Direction = d
		if d == firewall.Egress {
			r.DestinationRanges, r.SourceRanges = r.SourceRanges, nil
		}
	}
}

func withPriority(p int64) ruleOption {
	return func(r *firewall.Rule) { r.Priority = p }
}

func withDescription(d string) ruleOption {
	return func(r *firewall.Rule) { r.Description = d }
}

// foreign makes the rule someone else's: same name, no marker.
func foreign() ruleOption {
	return withDescription("opened by hand for the web team")
}

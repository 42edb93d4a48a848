package dataplane

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
)

// Builders of compute resources as fake-gce answers them, with functional
// options, for the Compile tests.

const (
	project = "p"
	zone    = "us-central1-a"
	region  = "us-central1"
)

func apiLink(path string) string {
	return "https://www.googleapis.com/compute/v1/projects/" + project + "/" + path
}

func instancePath(name string) string {
	return "projects/" + project + "/zones/" + zone + "/instances/" + name
}

var planOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, addr(a))
	}
	return out
}

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func newInstance(name, ip string, opts ...func(*compute.Instance)) *compute.Instance {
	in := &compute.Instance{Name: name, Status: "RUNNING", SelfLink: apiLink("zones/" + zone + "/instances/" + name),
		NetworkInterfaces: []*compute.NetworkInterface{{Network: apiLink("global/networks/default"), NetworkIP: ip}}}
	for _, o := range opts {
		o(in)
	}
	return in
}

func withNatIP(ip string) func(*compute.Instance) {
	return func(in *compute.Instance) {
		in.NetworkInterfaces[0].AccessConfigs = []*compute.AccessConfig{{Type: "ONE_TO_ONE_NAT", NatIP: ip}}
	}
}

// withIPv6 gives the instance's interface an IPv6 address (ipv6Address),
// as a dual-stack subnetwork does.
func withIPv6(ip string) func(*compute.Instance) {
	return func(in *compute.Instance) {
		in.NetworkInterfaces[0].StackType, in.NetworkInterfaces[0].Ipv6Address = "IPV4_IPV6", ip
	}
}

func withTags(tags ...string) func(*compute.Instance) {
	return func(in *compute.Instance) { in.Tags = &compute.Tags{Items: tags} }
}

func withServiceAccount(email string) func(*compute.Instance) {
	return func(in *compute.Instance) {
		in.ServiceAccounts = append(in.ServiceAccounts, &compute.ServiceAccount{Email: email})
	}
}

func stopped(in *compute.Instance) { in.Status = "TERMINATED" }

func onOtherNetwork(in *compute.Instance) {
	in.NetworkInterfaces[0].Network = apiLink("global/networks/other")
}

// newFirewall is an enabled ingress rule of the default network at priority
// 1000 allowing tcp:80 from anywhere, changed by opts.
func newFirewall(name string, opts ...func(*compute.Firewall)) *compute.Firewall {
	fw := &compute.Firewall{Name: name, Network: apiLink("global/networks/default"), Direction: "INGRESS", Priority: 1000,
		SourceRanges: []string{"0.0.0.0/0"},
		Allowed:      []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}}
	for _, o := range opts {
		o(fw)
	}
	return fw
}

func allow(protocol string, ports ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) {
		fw.Denied = nil
		fw.Allowed = []*compute.FirewallAllowed{{IPProtocol: protocol, Ports: ports}}
	}
}

func alsoAllow(protocol string, ports ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) {
		fw.Allowed = append(fw.Allowed, &compute.FirewallAllowed{IPProtocol: protocol, Ports: ports})
	}
}

func deny(protocol string, ports ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) {
		fw.Allowed = nil
		fw.Denied = []*compute.FirewallDenied{{IPProtocol: protocol, Ports: ports}}
	}
}

func priority(p int64) func(*compute.Firewall) { return func(fw *compute.Firewall) { fw.Priority = p } }

func sourceRanges(r ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.SourceRanges = r }
}

func sourceTags(t ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.SourceTags = t }
}

func targetTags(t ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.TargetTags = t }
}

func targetServiceAccounts(sa ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.TargetServiceAccounts = sa }
}

func destinationRanges(r ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.DestinationRanges = r }
}

func disabled(fw *compute.Firewall) { fw.Disabled = true }

func egress(fw *compute.Firewall) { fw.Direction = "EGRESS" }

func onNetwork(n string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.Network = apiLink("global/networks/" + n) }
}

func newRoute(name, dest string, opts ...func(*compute.Route)) *compute.Route {
	r := &compute.Route{Name: name, DestRange: dest, Network: apiLink("global/networks/default"), Priority: 1000}
	for _, o := range opts {
		o(r)
	}
	return r
}

func nextHopInstance(name string) func(*compute.Route) {
	return func(r *compute.Route) { r.NextHopInstance = apiLink("zones/" + zone + "/instances/" + name) }
}

func nextHopIP(ip string) func(*compute.Route) { return func(r *compute.Route) { r.NextHopIp = ip } }

func nextHopGateway(r *compute.Route) {
	r.NextHopGateway = apiLink("global/gateways/default-internet-gateway")
}

func routePriority(p int64) func(*compute.Route) { return func(r *compute.Route) { r.Priority = p } }

func newTargetPool(name string, checks []string, instances ...string) *compute.TargetPool {
	tp := &compute.TargetPool{Name: name, SelfLink: apiLink("regions/" + region + "/targetPools/" + name)}
	for _, c := range checks {
		tp.HealthChecks = append(tp.HealthChecks, apiLink("global/httpHealthChecks/"+c))
	}
	for _, i := range instances {
		tp.Instances = append(tp.Instances, apiLink("zones/"+zone+"/instances/"+i))
	}
	return tp
}

func newBackendService(name, check string, groups ...string) *compute.BackendService {
	bs := &compute.BackendService{Name: name, SelfLink: apiLink("regions/" + region + "/backendServices/" + name),
		LoadBalancingScheme: "EXTERNAL", HealthChecks: []string{apiLink("regions/" + region + "/healthChecks/" + check)}}
	for _, g := range groups {
		bs.Backends = append(bs.Backends, &compute.Backend{Group: apiLink("zones/" + zone + "/instanceGroups/" + g)})
	}
	return bs
}

func groupPath(name string) string {
	return "projects/" + project + "/zones/" + zone + "/instanceGroups/" + name
}

func newHTTPHealthCheck(name string, port int64, path string) *compute.HttpHealthCheck {
	return &compute.HttpHealthCheck{Name: name, SelfLink: apiLink("global/httpHealthChecks/" + name), Port: port, RequestPath: path,
		CheckIntervalSec: 5, TimeoutSec: 5, HealthyThreshold: 2, UnhealthyThreshold: 2}
}

func legacyCheckPath(name string) string {
	return "projects/" + project + "/global/httpHealthChecks/" + name
}

func newTCPHealthCheck(name string, port int64) *compute.HealthCheck {
	return &compute.HealthCheck{Name: name, SelfLink: apiLink("regions/" + region + "/healthChecks/" + name), Type: "TCP",
		TcpHealthCheck: &compute.TCPHealthCheck{Port: port}, CheckIntervalSec: 2, TimeoutSec: 1, HealthyThreshold: 1, UnhealthyThreshold: 3}
}

func checkPath(name string) string {
	return "projects/" + project + "/regions/" + region + "/healthChecks/" + name
}

// newForwardingRule is an external TCP rule for port 80 to a target pool.
func newForwardingRule(name, ip string, opts ...func(*compute.ForwardingRule)) *compute.ForwardingRule {
	fr := &compute.ForwardingRule{Name: name, IPAddress: ip, IPProtocol: "TCP", PortRange: "80-80",
		LoadBalancingScheme: "EXTERNAL", Target: apiLink("regions/" + region + "/targetPools/pool")}
	for _, o := range opts {
		o(fr)
	}
	return fr
}

func toPool(name string) func(*compute.ForwardingRule) {
	return func(fr *compute.ForwardingRule) { fr.Target = apiLink("regions/" + region + "/targetPools/" + name) }
}

func toBackendService(name string) func(*compute.ForwardingRule) {
	return func(fr *compute.ForwardingRule) {
		fr.Target = ""
		fr.BackendService = apiLink("regions/" + region + "/backendServices/" + name)
	}
}

func portRange(r string) func(*compute.ForwardingRule) {
	return func(fr *compute.ForwardingRule) { fr.PortRange = r }
}

func ports(p ...string) func(*compute.ForwardingRule) {
	return func(fr *compute.ForwardingRule) { fr.PortRange, fr.Ports = "", p }
}

func allPorts(fr *compute.ForwardingRule) { fr.PortRange, fr.AllPorts = "", true }

func protocol(p string) func(*compute.ForwardingRule) {
	return func(fr *compute.ForwardingRule) { fr.IPProtocol = p }
}

func l3Default(fr *compute.ForwardingRule) {
	fr.IPProtocol, fr.PortRange, fr.AllPorts = "L3_DEFAULT", "", true
}

func internalScheme(fr *compute.ForwardingRule) { fr.LoadBalancingScheme = "INTERNAL" }

// ipv6 makes the rule an IPv6 one, as the API answers it: an external
// rule's address with its /96.
func ipv6(fr *compute.ForwardingRule) { fr.IpVersion = "IPV6" }

package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/protoport"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// throughVPC carries the packet from the client to an instance: through a
// forwarding rule (passthrough: the destination stays), the 1:1 NAT of an
// instance's external address, or straight to an internal address.
func (tr *tracer) throughVPC() (*compute.Instance, bool) {
	dst := tr.flow.Dst
	if fr := tr.forwardingRuleFor(dst); fr != nil {
		if strings.EqualFold(fr.LoadBalancingScheme, "INTERNAL") && !tr.inside {
			tr.stop(compVPCRoute, Dropped, "internal load balancer",
				fmt.Sprintf("%s is the address of internal forwarding rule %s, which the VPC serves to clients inside it only: %s is outside the VPC", dst.Addr(), fr.Name, tr.flow.Src.Addr()),
				"trace a client inside the VPC (--from an address of its subnetworks), or make the load balancer external")
			return nil, false
		}
		if !strings.EqualFold(fr.LoadBalancingScheme, "INTERNAL") && tr.inside && !tr.leaveVPC(fr) {
			return nil, false
		}
		return tr.loadBalance(fr)
	}
	for _, inst := range tr.in.Cloud.Instances {
		if nat := natAddress(inst); nat.IsValid() && nat == dst.Addr() {
			internal := internalAddress(inst, dst.Addr())
			after := tr.flow
			after.Dst = netip.AddrPortFrom(internal, dst.Port())
			tr.entryNAT = inst
			tr.step(compNAT, atVPC, "rewritten", fmt.Sprintf("%s is the external address of instance %s (accessConfigs[0].natIP): the 1:1 NAT rewrites the destination to its internal address %s",
				nat, inst.Name, internal), after)
			return inst, true
		}
		if externalIPv6(inst) == dst.Addr() {
			return inst, true
		}
		if ownsAddress(inst, dst.Addr()) {
			if !tr.inside {
				tr.stop(compVPCRoute, Dropped, "internal address",
					fmt.Sprintf("%s is instance %s's internal address, which the VPC routes only for clients inside it: %s is outside the VPC", dst.Addr(), inst.Name, tr.flow.Src.Addr()),
					tr.outsideFix(inst)...)
				return nil, false
			}
			return inst, true
		}
	}
	for _, fr := range tr.in.Cloud.ForwardingRules {
		if a, ok := ruleAddress(fr); ok && ruleCoversAddress(fr, a, dst.Addr()) {
			tr.stop(compForwarding, Dropped, "no rule for the port",
				fmt.Sprintf("forwarding rule %s on %s carries %s only; nothing in the VPC takes %s:%d", fr.Name, a, ruleTraffic(fr), tr.protocol, dst.Port()),
				"the forwarding rule is out of date or the port is wrong: compare the Service's ports with the rule; the CCM recreates it on its next reconcile")
			return nil, false
		}
	}
	tr.stop(compVPCRoute, Dropped, "no such address in the VPC",
		fmt.Sprintf("%s is no forwarding rule's address, no instance's external address and no instance's internal address: the VPC has nowhere to send it", dst.Addr()),
		"check the Service's status.loadBalancer.ingress: the address may be stale")
	return nil, false
}

// leaveVPC takes a packet of a client inside the VPC to an external
// forwarding rule: such a rule takes packets from the internet, which a
// VM reaches through its external address (the 1:1 NAT of its
// accessConfigs[0] rewrites the source) or Cloud NAT
// (https://cloud.google.com/load-balancing/docs/network: "External
// passthrough Network Load Balancers can receive traffic from: Any client
// on the internet; Google Cloud VMs with external IPs; Google Cloud VMs
// that have internet access through Cloud NAT or instance-based NAT").
// Cloud NAT is not modelled: the trace reads no Cloud Routers.
func (tr *tracer) leaveVPC(fr *compute.ForwardingRule) bool {
	src := tr.flow.Src.Addr()
	inst := tr.instanceWithPrimary(src)
	if nat := natAddress(inst); nat.IsValid() && src.Is4() {
		after := tr.flow
		after.Src = netip.AddrPortFrom(nat, tr.flow.Src.Port())
		tr.clientNAT = inst
		tr.step(compNAT, atVPC, "rewritten", fmt.Sprintf("forwarding rule %s is external: instance %s reaches it through its external address, the 1:1 NAT of accessConfigs[0] rewriting the source %s to %s",
			fr.Name, inst.Name, src, nat), after)
		return true
	}
	const cloudNAT = "Cloud NAT, the other way out, is not modelled (the trace reads no Cloud Routers)"
	natFix := "or give its subnetwork Cloud NAT (not modelled: the trace then still says dropped)"
	head := fmt.Sprintf("%s is the address of external forwarding rule %s, which takes packets from the internet: ", tr.flow.Dst.Addr(), fr.Name)
	if inst != nil {
		tr.stop(compVPCRoute, Dropped, "no way out of the VPC",
			head+fmt.Sprintf("instance %s (%s) is inside the VPC and has no external address (accessConfigs[0].natIP) to leave it from. %s", inst.Name, src, cloudNAT),
			fmt.Sprintf("give instance %s an external address (an access config of type ONE_TO_ONE_NAT)", inst.Name), natFix)
		return false
	}
	tr.stop(compVPCRoute, Dropped, "no way out of the VPC",
		head+fmt.Sprintf("%s is inside the VPC and is no instance the trace read, so it has no known external address (accessConfigs[0].natIP) to leave it from. %s", src, cloudNAT),
		"trace from the client's external address (--from), or from a VM of the VPC that has one", natFix)
	return false
}

// insideVPC: a is in the VPC's ranges, is an instance's address, or is a
// pod's (in a node's pod CIDR, which the VPC routes to the node).
func (tr *tracer) insideVPC(a netip.Addr) bool {
	for _, p := range tr.in.Cloud.NetworkRanges {
		if p.Contains(a) {
			return true
		}
	}
	for _, n := range tr.in.Nodes {
		if podCIDROf(n, a) != "" {
			return true
		}
	}
	for _, inst := range tr.in.Cloud.Instances {
		if ownsAddress(inst, a) {
			return true
		}
	}
	return false
}

// instanceWithPrimary is the instance whose primary internal address is a.
func (tr *tracer) instanceWithPrimary(a netip.Addr) *compute.Instance {
	for _, inst := range tr.in.Cloud.Instances {
		if isPrimaryAddress(inst, a) {
			return inst
		}
	}
	return nil
}

// outsideFix says how a client outside the VPC reaches an instance.
func (tr *tracer) outsideFix(inst *compute.Instance) []string {
	var fix []string
	if nat := natAddress(inst); nat.IsValid() {
		fix = append(fix, fmt.Sprintf("connect to %s's external address %s (--to %s): the 1:1 NAT turns it into the internal one", inst.Name, nat, nat))
	}
	return append(fix, "or trace a client inside the VPC (--from an address of its subnetworks)")
}

// forwardingRuleFor is the forwarding rule that takes a packet: its
// address, protocol and port.
func (tr *tracer) forwardingRuleFor(dst netip.AddrPort) *compute.ForwardingRule {
	var match []*compute.ForwardingRule
	for _, fr := range tr.in.Cloud.ForwardingRules {
		a, ok := ruleAddress(fr)
		if ok && ruleCoversAddress(fr, a, dst.Addr()) && ruleCarries(fr, tr.protocol, dst.Port()) {
			match = append(match, fr)
		}
	}
	slices.SortFunc(match, func(a, b *compute.ForwardingRule) int { return strings.Compare(a.Name, b.Name) })
	if len(match) == 0 {
		return nil
	}
	return match[0]
}

// ruleAddress is a forwarding rule's IP (an IPv6 rule holds the first
// address of its /96).
func ruleAddress(fr *compute.ForwardingRule) (netip.Addr, bool) {
	s := fr.IPAddress
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}

// ruleCoversAddress: an IPv4 rule takes its address; an external IPv6 rule
// takes its whole /96.
func ruleCoversAddress(fr *compute.ForwardingRule, a, dst netip.Addr) bool {
	if a.Is4() {
		return a == dst
	}
	p, err := a.Prefix(96)
	return err == nil && p.Contains(dst)
}

// ruleCarries: the rule's protocol (L3_DEFAULT carries all) and ports
// (allPorts, the ports listed, the port range; none: all ports).
func ruleCarries(fr *compute.ForwardingRule, protocol string, port uint16) bool {
	proto := strings.ToLower(fr.IPProtocol)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "l3_default" && proto != protocol {
		return false
	}
	switch {
	case fr.AllPorts:
		return true
	case len(fr.Ports) > 0:
		for _, p := range fr.Ports {
			if r, err := protoport.ParsePortRange(p); err == nil && r.Contains(port) {
				return true
			}
		}
		return false
	case fr.PortRange != "":
		r, err := protoport.ParsePortRange(fr.PortRange)
		return err == nil && r.Contains(port)
	}
	return true
}

// ruleTraffic is "TCP 80-80" or "TCP 80,443" or "L3_DEFAULT all ports".
func ruleTraffic(fr *compute.ForwardingRule) string {
	proto := fr.IPProtocol
	if proto == "" {
		proto = "TCP"
	}
	switch {
	case fr.AllPorts:
		return proto + " on all ports"
	case len(fr.Ports) > 0:
		return proto + " " + strings.Join(fr.Ports, ",")
	case fr.PortRange != "":
		return proto + " " + fr.PortRange
	}
	return proto + " on all ports"
}

// flowHash says what GCE hashes to pick a new flow's backend, by the
// target pool's or backend service's session affinity.
func flowHash(affinity string) string {
	switch affinity {
	case "CLIENT_IP":
		return "a hash of the client's and the rule's addresses: session affinity CLIENT_IP keeps a client on one backend"
	case "CLIENT_IP_PROTO":
		return "a hash of the addresses and the protocol: session affinity CLIENT_IP_PROTO keeps a client on one backend per protocol"
	}
	return "a hash of its 5-tuple"
}

// loadBalance picks the backend a passthrough forwarding rule delivers to:
// GCE hashes each new flow to one healthy backend (all of them when none
// is healthy) and keeps it for the flow's life.
func (tr *tracer) loadBalance(fr *compute.ForwardingRule) (*compute.Instance, bool) {
	target, err := tr.backendsOf(fr)
	pool := target.what
	if err != nil {
		tr.stop(compForwarding, Dropped, "no backends", err.Error(), "the CCM recreates missing resources on its next reconcile: see the Service's events")
		return nil, false
	}
	backends := tr.health(target.members, target.check)
	tr.t.Backends = backends
	if len(backends) == 0 {
		tr.stop(compForwarding, Dropped, "no backends", fmt.Sprintf("%s has no instances: forwarding rule %s has nowhere to send the packet", pool, fr.Name),
			"check that the nodes have providerIDs and are not excluded from load balancers")
		return nil, false
	}
	var healthy []Backend
	for _, b := range backends {
		if b.Healthy {
			healthy = append(healthy, b)
		}
	}
	candidates := healthy
	if len(healthy) == 0 {
		candidates = backends
		tr.note("No backend of %s is healthy: GCE then spreads new flows over all of them.", pool)
	}
	chosen := candidates[0]
	if tr.in.ToNode != "" {
		i := slices.IndexFunc(backends, func(b Backend) bool { return tr.isBackendOf(b, tr.in.ToNode) })
		if i < 0 {
			tr.stop(compForwarding, Dropped, "not a backend", fmt.Sprintf("node %s is not a backend of %s (its backends: %s): forwarding rule %s never sends it a packet",
				tr.in.ToNode, pool, backendNames(backends), fr.Name))
			return nil, false
		}
		chosen = backends[i]
		if !slices.Contains(candidates, chosen) {
			tr.note("%s fails its health check (%s): GCE sends it new flows only while no backend is healthy. The trace follows the packet there anyway.", chosen.Node, chosen.Reason)
		}
	} else if len(candidates) > 1 {
		tr.note("GCE picks one of %s for each new flow (%s) and keeps it for the flow's life; the trace follows %s (--to-node chooses another).",
			backendNames(candidates), flowHash(target.affinity), chosen.Node)
	}
	inst := instanceByLink(tr.in.Cloud.Instances, chosen.Instance)
	if inst == nil {
		tr.stop(compForwarding, Dropped, "backend gone", fmt.Sprintf("%s lists instance %s, which does not exist: the packet %s sends there is lost", pool, ownership.LastSegment(chosen.Instance), fr.Name),
			"the CCM removes instances that are gone from its load balancers on its next reconcile")
		return nil, false
	}
	tr.passthrough = fr
	tr.step(compForwarding, atVPC, "forwarded", fmt.Sprintf("%s (%s) sends it to %s, instance %s (%s); passthrough: the destination stays %s",
		fr.Name, ruleTraffic(fr), pool, ownership.LastSegment(chosen.Instance), internalAddress(inst, tr.flow.Dst.Addr()), tr.flow.Dst.Addr()), tr.flow)
	return inst, true
}

// isBackendOf: the backend is the node's instance, known by the instance
// or, when the instance is gone, by the name the node's providerID gives.
func (tr *tracer) isBackendOf(b Backend, node string) bool {
	if b.Node != "" {
		return b.Node == node
	}
	name := node
	if rest, ok := strings.CutPrefix(tr.nodes[node].Spec.ProviderID, "gce://"); ok {
		name = ownership.LastSegment(rest)
	}
	return ownership.LastSegment(b.Instance) == name
}

func backendNames(bs []Backend) string {
	var names []string
	for _, b := range bs {
		names = append(names, cmp.Or(b.Node, ownership.LastSegment(b.Instance)))
	}
	return strings.Join(names, ", ")
}

// externalIPv6 is the instance's external IPv6 address: GCE delivers it to
// the instance as it is, without NAT.
func externalIPv6(inst *compute.Instance) netip.Addr {
	nic := primaryInterface(inst)
	if nic == nil {
		return netip.Addr{}
	}
	for _, ac := range nic.Ipv6AccessConfigs {
		if ac == nil {
			continue
		}
		s := ac.ExternalIpv6
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i]
		}
		if a, err := netip.ParseAddr(s); err == nil {
			return a
		}
	}
	return netip.Addr{}
}

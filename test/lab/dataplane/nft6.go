package dataplane

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The IPv6 table, ip6 cpv_vpc. The vpc namespace forwards no IPv6 (the
// data plane leaves net.ipv6.conf.all.forwarding off), so the only IPv6
// flows into instance links are the health checkers' probes of the
// backends of IPv6 forwarding rules; as in the IPv4 table, they cross the
// VPC firewall's rules of IPv6 sources (Plan.Firewall6), then the
// implied deny:
//
//	output    output, filter: established flows and neighbor discovery
//	          pass; new flows into an instance link go through firewall.
//	firewall  the compiled IPv6 ingress rules in order, then the implied deny.
//
// Neighbor discovery is the VPC's own business, not an instance's ingress
// (GCE's VPC has no layer 2 for a firewall to judge); the IPv4 table never
// sees its counterpart, ARP.

// Offsets of the IPv6 header's addresses.
var ipv6Offsets = addrOffsets{saddr: 8, daddr: 24}

// addTable6 adds to the batch the replacement of the IPv6 table, rendered
// from the plan; writeTable commits it with the IPv4 one, so a write costs
// one commit (and one RCU grace period) whatever the families.
func addTable6(c *nftables.Conn, p Plan, links map[netip.Addr]string) error {
	w := replaceTable(c, nftables.TableFamilyIPv6, ipv6Offsets)
	accept := nftables.ChainPolicyAccept
	for _, ch := range []*nftables.Chain{
		{Name: chainFirewall},
		{Name: chainOutput, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept},
	} {
		w.addChain(ch)
	}
	if err := w.firewallRules(p.Firewall6, links, ipv6AddrIn); err != nil {
		return err
	}
	w.rule(chainOutput, "neighbor discovery", neighborDiscovery(), one(verdict(expr.VerdictAccept, "")))
	return w.output(p, links)
}

// ipv6AddrIn matches an IPv6 address against prefixes, one alternative per
// prefix (mask and compare): few rules hold more than a few ranges, and
// this needs no 128-bit interval set.
func ipv6AddrIn(offset uint32, ps []netip.Prefix) ([][]expr.Any, error) {
	var out [][]expr.Any
	for _, p := range ps {
		if !p.Addr().Is6() {
			return nil, fmt.Errorf("%s is no IPv6 prefix", p)
		}
		a := p.Masked().Addr().As16()
		load := &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 16}
		if p.Bits() == 128 {
			out = append(out, []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: a[:]}})
			continue
		}
		m := make([]byte, 16)
		for i := range p.Bits() {
			m[i/8] |= 0x80 >> (i % 8)
		}
		out = append(out, []expr.Any{load,
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 16, Mask: m, Xor: make([]byte, 16)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: a[:]}})
	}
	return out, nil
}

// neighborDiscovery matches the ICMPv6 messages of neighbor discovery
// (RFC 4861): types 133 to 137, router solicitation to redirect.
func neighborDiscovery() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{58}}, // ipv6-icmp
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Range{Op: expr.CmpOpEq, Register: reg1, FromData: []byte{133}, ToData: []byte{137}},
	}
}

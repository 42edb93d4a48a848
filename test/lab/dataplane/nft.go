package dataplane

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// tableName is the one nftables table the data plane owns in the vpc namespace.
const tableName = "cpv_vpc"

// instanceLinkPrefix starts the name of the vpc side of every instance's
// link (the lab contract names it "i-<N>"); every other link leads to the
// client side.
const instanceLinkPrefix = "i-"

// Chains of the table, by the hook they sit on:
//
//	mark      prerouting, mangle: a new flow to a forwarding rule picks a
//	          backend (jhash of the 5-tuple, or of the part of it the session
//	          affinity names, over the serving backends) into its
//	          ct mark; every packet of a flow's original direction copies the
//	          ct mark to the packet mark, which an ip rule routes to the
//	          backend's table.
//	dnat      prerouting, dstnat: natIP -> networkIP.
//	snat      postrouting, srcnat: networkIP -> natIP toward the client side.
//	forward   forward, filter, policy drop: established flows pass; new flows
//	          into an instance link go through firewall; from the client side
//	          only to a natIP (DNATed) or a forwarding rule's address; from an
//	          instance to the client side only from an instance with a natIP.
//	output    output, filter: the health checkers' probes into an instance
//	          link go through firewall too.
//	firewall  the compiled ingress rules in order, then the implied deny.
const (
	chainMark     = "mark"
	chainDNAT     = "dnat"
	chainSNAT     = "snat"
	chainForward  = "forward"
	chainOutput   = "output"
	chainFirewall = "firewall"
)

// writeTable replaces the data plane's tables (ip, and ip6 for the IPv6
// health checks) with ones rendered from the plan, in one netlink batch
// (add, delete and add each table again), so packets see either the old
// rules or the new ones. links maps instance addresses to the
// vpc-side link that leads to them.
//
// A write costs one RCU grace period in the kernel (about 13 ms on a 2-core
// machine), because its commit removes rules. Keeping the table and
// flushing and refilling its chains removes rules too and measured the
// same, so the whole table is replaced, which also undoes any hand edit.
func writeTable(c *nftables.Conn, p Plan, links map[netip.Addr]string) error {
	w := replaceTable(c, nftables.TableFamilyIPv4, ipv4Offsets)
	drop, accept := nftables.ChainPolicyDrop, nftables.ChainPolicyAccept
	for _, ch := range []*nftables.Chain{
		{Name: chainFirewall},
		{Name: chainMark, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle},
		{Name: chainDNAT, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest},
		{Name: chainSNAT, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
		{Name: chainForward, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop},
		{Name: chainOutput, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept},
	} {
		w.addChain(ch)
	}
	for _, step := range []func(Plan, map[netip.Addr]string) error{w.mark, w.nat, w.firewall, w.forward, w.output} {
		if err := step(p, links); err != nil {
			return err
		}
	}
	if err := addTable6(c, p, links); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("replace nftables tables ip and ip6 %s: %w", tableName, err)
	}
	return nil
}

type tableWriter struct {
	c       *nftables.Conn
	t       *nftables.Table
	sets    setBuilder
	chains  map[string]*nftables.Chain
	offsets addrOffsets // of the table's family's header
}

// replaceTable adds to the batch the deletion of the family's table and a
// new empty one in its place (adding it first makes the deletion succeed
// when there is none), and returns a writer of the new one.
func replaceTable(c *nftables.Conn, family nftables.TableFamily, offsets addrOffsets) *tableWriter {
	t := &nftables.Table{Family: family, Name: tableName}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	return &tableWriter{c: c, t: t, sets: setBuilder{c: c, table: t}, chains: map[string]*nftables.Chain{}, offsets: offsets}
}

func (w *tableWriter) addChain(ch *nftables.Chain) {
	ch.Table = w.t
	w.chains[ch.Name] = w.c.AddChain(ch)
}

// addrOffsets are where a network header holds its addresses.
type addrOffsets struct{ saddr, daddr uint32 }

var ipv4Offsets = addrOffsets{offSaddr, offDaddr}

// product is every concatenation of one match of a and one of b.
func product(a, b [][]expr.Any) [][]expr.Any {
	var out [][]expr.Any
	for _, x := range a {
		for _, y := range b {
			out = append(out, slices.Concat(x, y))
		}
	}
	return out
}

func (w *tableWriter) rule(chain, comment string, exprs ...[]expr.Any) {
	r := &nftables.Rule{Table: w.t, Chain: w.chains[chain], Exprs: slices.Concat(exprs...)}
	if comment != "" {
		r.UserData = userdata.AppendString(nil, userdata.TypeComment, comment)
	}
	w.c.AddRule(r)
}

func one(e expr.Any) []expr.Any { return []expr.Any{e} }

const (
	stateNew                   = expr.CtStateBitNEW
	stateEstablishedRel        = expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED
	hashRegister        uint32 = 12 // NFT_REG32_04: the 5-tuple takes five 32-bit registers from here
)

// mark renders the backend choice of every forwarding rule, then the
// restore of the packet mark from the ct mark.
func (w *tableWriter) mark(p Plan, _ map[netip.Addr]string) error {
	for _, fr := range p.ForwardingRules {
		if len(fr.Serving) == 0 {
			continue
		}
		match := slices.Concat(ctStateIn(stateNew), addrIs(offDaddr, fr.IP))
		if fr.Internal {
			match = append(match, ifnamePrefix(false, instanceLinkPrefix, true)...)
		}
		if fr.Protocol != 0 {
			match = append(match, l4protoIs(fr.Protocol)...)
		}
		if fr.Ports != nil {
			ports, err := w.sets.portIn(fr.Ports)
			if err != nil {
				return fmt.Errorf("forwarding rule %s: %w", fr.Name, err)
			}
			match = append(match, ports...)
		}
		var elems []nftables.SetElement
		for i, b := range fr.Serving {
			elems = append(elems, nftables.SetElement{Key: native.PutUint32(uint32(i)), Val: native.PutUint32(backendMark(b))})
		}
		choose, err := w.sets.lookup(&nftables.Set{IsMap: true, KeyType: nftables.TypeInteger, DataType: nftables.TypeMark, KeyByteOrder: native}, elems)
		if err != nil {
			return fmt.Errorf("forwarding rule %s: %w", fr.Name, err)
		}
		choose.DestRegister, choose.IsDestRegSet = reg1, true
		// jhash ip saddr . ip daddr . meta l4proto . th sport . th dport mod N,
		// or the leading part of it that the session affinity names.
		key := []expr.Any{
			loadAddr(offSaddr, hashRegister), loadAddr(offDaddr, hashRegister+1),
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: hashRegister + 2},
			loadPort(offSport, hashRegister+3), loadPort(offDport, hashRegister+4),
		}
		switch fr.Affinity {
		case AffinityClientIP:
			key = key[:2]
		case AffinityClientIPProto:
			key = key[:3]
		}
		hash := append(key,
			&expr.Hash{SourceRegister: hashRegister, DestRegister: reg1, Length: uint32(4 * len(key)), Modulus: uint32(len(fr.Serving)), Type: expr.HashTypeJenkins},
			choose,
			&expr.Ct{Key: expr.CtKeyMARK, Register: reg1, SourceRegister: true},
		)
		w.rule(chainMark, "forwarding rule "+fr.Name, match, hash)
	}
	w.rule(chainMark, "route a flow's packets to its backend", restoreMark())
	return nil
}

// nat renders the 1:1 NAT of every instance with an external address.
func (w *tableWriter) nat(p Plan, _ map[netip.Addr]string) error {
	for _, n := range p.NAT {
		w.rule(chainDNAT, "", addrIs(offDaddr, n.External), natTo(expr.NATTypeDestNAT, n.Internal))
		w.rule(chainSNAT, "", ifnamePrefix(true, instanceLinkPrefix, false), addrIs(offSaddr, n.Internal), natTo(expr.NATTypeSourceNAT, n.External))
	}
	return nil
}

// firewall renders the ingress rules in order: one nftables rule per
// allowed/denied entry, matched on the output link of the target instances.
func (w *tableWriter) firewall(p Plan, links map[netip.Addr]string) error {
	return w.firewallRules(p.Firewall, links, func(offset uint32, ps []netip.Prefix) ([][]expr.Any, error) {
		m, err := w.sets.addrIn(offset, ps)
		return [][]expr.Any{m}, err
	})
}

// addrMatcher returns the alternative matches of an address at a header
// offset against prefixes: a packet matches when one of them does.
type addrMatcher func(offset uint32, ps []netip.Prefix) ([][]expr.Any, error)

// firewallRules renders rules into the firewall chain, addresses matched by
// match, then the implied deny.
func (w *tableWriter) firewallRules(rules []FirewallRule, links map[netip.Addr]string, match addrMatcher) error {
	for i, r := range rules {
		var targets []string
		for _, a := range r.Targets {
			if l, ok := links[a]; ok {
				targets = append(targets, l)
			}
		}
		if len(targets) == 0 {
			continue // no target is wired into the lab
		}
		slices.Sort(targets)
		targets = slices.Compact(targets)
		common := [][]expr.Any{nil}
		if !(len(r.Sources) == 1 && r.Sources[0].Bits() == 0) {
			src, err := match(w.offsets.saddr, r.Sources)
			if err != nil {
				return fmt.Errorf("firewall rule %s: sources: %w", r.Name, err)
			}
			common = product(common, src)
		}
		if r.Destinations != nil {
			dst, err := match(w.offsets.daddr, r.Destinations)
			if err != nil {
				return fmt.Errorf("firewall rule %s: destinations: %w", r.Name, err)
			}
			common = product(common, dst)
		}
		oif, err := w.sets.oifnameIn(fmt.Sprintf("targets-%d", i), targets)
		if err != nil {
			return fmt.Errorf("firewall rule %s: targets: %w", r.Name, err)
		}
		common = product(common, [][]expr.Any{oif})
		kind := expr.VerdictAccept
		if r.Action == Deny {
			kind = expr.VerdictDrop
		}
		for _, m := range r.Match {
			var entry []expr.Any
			if m.Protocol != 0 {
				entry = append(entry, l4protoIs(m.Protocol)...)
			}
			if m.Ports != nil {
				ports, err := w.sets.portIn(m.Ports)
				if err != nil {
					return fmt.Errorf("firewall rule %s: ports: %w", r.Name, err)
				}
				entry = append(entry, ports...)
			}
			for _, c := range common {
				w.rule(chainFirewall, fmt.Sprintf("firewall %s priority %d %s", r.Name, r.Priority, r.Action),
					c, entry, one(&expr.Counter{}), one(verdict(kind, "")))
			}
		}
	}
	w.rule(chainFirewall, "implied deny ingress", one(&expr.Counter{}), one(verdict(expr.VerdictDrop, "")))
	return nil
}

// forward renders what may cross the VPC router.
func (w *tableWriter) forward(p Plan, _ map[netip.Addr]string) error {
	toInstance := ifnamePrefix(true, instanceLinkPrefix, true)
	fromInstance := ifnamePrefix(false, instanceLinkPrefix, true)
	fromOutside := ifnamePrefix(false, instanceLinkPrefix, false)
	toOutside := ifnamePrefix(true, instanceLinkPrefix, false)
	jump := one(verdict(expr.VerdictJump, chainFirewall))

	w.rule(chainForward, "", ctStateIn(stateEstablishedRel), one(verdict(expr.VerdictAccept, "")))
	w.rule(chainForward, "client side to a natIP", toInstance, fromOutside, ctDestinationNATed(), jump)
	var lbs []netip.Prefix
	for _, fr := range p.ForwardingRules {
		if !fr.Internal {
			lbs = append(lbs, netip.PrefixFrom(fr.IP, 32))
		}
	}
	if len(lbs) > 0 {
		slices.SortFunc(lbs, comparePrefixes)
		dst, err := w.sets.addrIn(offDaddr, slices.Compact(lbs))
		if err != nil {
			return fmt.Errorf("forwarding rule addresses: %w", err)
		}
		w.rule(chainForward, "client side to a forwarding rule", toInstance, fromOutside, dst, jump)
	}
	w.rule(chainForward, "instance to instance", toInstance, fromInstance, jump)
	var natted []netip.Prefix
	for _, n := range p.NAT {
		natted = append(natted, netip.PrefixFrom(n.Internal, 32))
	}
	if len(natted) > 0 {
		src, err := w.sets.addrIn(offSaddr, natted)
		if err != nil {
			return fmt.Errorf("NAT sources: %w", err)
		}
		w.rule(chainForward, "instance with a natIP to the client side", fromInstance, toOutside, src, one(verdict(expr.VerdictAccept, "")))
	}
	return nil
}

// output sends the namespace's own new flows into instances (the health
// checkers' probes) through the firewall.
func (w *tableWriter) output(Plan, map[netip.Addr]string) error {
	w.rule(chainOutput, "", ctStateIn(stateEstablishedRel), one(verdict(expr.VerdictAccept, "")))
	w.rule(chainOutput, "health checkers to an instance", ifnamePrefix(true, instanceLinkPrefix, true), one(verdict(expr.VerdictJump, chainFirewall)))
	return nil
}

// deleteTable removes the data plane's tables, if they are there.
func deleteTable(c *nftables.Conn) error {
	for _, family := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		t := &nftables.Table{Family: family, Name: tableName}
		c.AddTable(t)
		c.DelTable(t)
	}
	return c.Flush()
}

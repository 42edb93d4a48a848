package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// What marks the data plane's own routing state in the vpc namespace.
const (
	// routeProtocol tags every route the data plane adds (rtm_protocol), so
	// that it finds and removes its own and no other.
	routeProtocol netlink.RouteProtocol = 201
	// rulePriority is the priority of its "fwmark M lookup M" rules.
	rulePriority = 100
	// markBase is or-ed with the low 24 bits of a backend's address to give
	// its mark and routing table: stable across changes, so a flow keeps its
	// backend while others come and go, and unique within a VPC whose
	// instances share their first octet (10.x in the lab).
	markBase = 0x10000000
)

// backendMark is the packet mark, and the routing table, of a backend.
func backendMark(ip netip.Addr) uint32 {
	b := ip.As4()
	return markBase | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// link is the vpc-side link that leads to an instance.
type link struct {
	name  string
	index int
}

// instanceLinks asks the kernel which link leads to each instance address
// the plan names: the lab wires each instance with a route "<ip>/32 dev i-N",
// and nothing else says where an instance is. Addresses that no instance
// link reaches (instances not wired into the lab) are left out.
func instanceLinks(h *netlink.Handle, p Plan) (map[netip.Addr]link, error) {
	var ips []netip.Addr
	for _, n := range p.NAT {
		ips = append(ips, n.Internal)
	}
	for _, fr := range p.ForwardingRules {
		for _, b := range fr.Backends {
			ips = append(ips, b.IP)
		}
	}
	for _, r := range slices.Concat(p.Firewall, p.Firewall6) {
		ips = append(ips, r.Targets...)
	}
	for _, r := range p.Routes {
		ips = append(ips, r.NextHop)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	ips = slices.Compact(ips)
	byIndex := map[int]string{}
	out := map[netip.Addr]link{}
	for _, ip := range ips {
		routes, err := h.RouteGet(ip.AsSlice())
		if errors.Is(err, unix.ENETUNREACH) || errors.Is(err, unix.EHOSTUNREACH) || (err == nil && len(routes) == 0) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get route to %s: %w", ip, err)
		}
		idx := routes[0].LinkIndex
		name, ok := byIndex[idx]
		if !ok {
			l, err := h.LinkByIndex(idx)
			if err != nil {
				return nil, fmt.Errorf("get link %d: %w", idx, err)
			}
			name = l.Attrs().Name
			byIndex[idx] = name
		}
		if strings.HasPrefix(name, instanceLinkPrefix) {
			out[ip] = link{name: name, index: idx}
		}
	}
	return out, nil
}

// desiredRoutes are the routes the plan needs: for each forwarding-rule
// backend a table of its own with a default route to it, and the VPC's
// routes in the main table.
func desiredRoutes(p Plan, links map[netip.Addr]link) []netlink.Route {
	var out []netlink.Route
	seen := map[netip.Addr]bool{}
	for _, fr := range p.ForwardingRules {
		for _, b := range fr.Backends {
			l, ok := links[b.IP]
			if !ok || seen[b.IP] {
				continue
			}
			seen[b.IP] = true
			out = append(out, netlink.Route{Table: int(backendMark(b.IP)), Dst: ipNet(netip.MustParsePrefix("0.0.0.0/0")),
				Gw: b.IP.AsSlice(), LinkIndex: l.index, Protocol: routeProtocol})
		}
	}
	for _, r := range p.Routes {
		l, ok := links[r.NextHop]
		if !ok {
			continue
		}
		out = append(out, netlink.Route{Table: unix.RT_TABLE_MAIN, Dst: ipNet(r.Destination), Gw: r.NextHop.AsSlice(),
			LinkIndex: l.index, Protocol: routeProtocol})
	}
	return out
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func routeKey(r netlink.Route) string {
	dst := "0.0.0.0/0"
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	return fmt.Sprintf("%d %s via %s dev %d", r.Table, dst, r.Gw, r.LinkIndex)
}

// writeRouting brings the data plane's ip rules and routes to what the plan
// needs: it adds the missing ones and deletes its own that are no longer
// needed, and never touches a rule or route it did not add.
func writeRouting(h *netlink.Handle, p Plan, links map[netip.Addr]link) error {
	want := map[string]netlink.Route{}
	for _, r := range desiredRoutes(p, links) {
		want[routeKey(r)] = r
	}
	have, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	var errs []error
	for _, r := range have {
		k := routeKey(r)
		if _, ok := want[k]; ok {
			delete(want, k)
			continue
		}
		if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", k, err))
		}
	}
	for k, r := range want {
		if err := h.RouteReplace(&r); err != nil {
			errs = append(errs, fmt.Errorf("replace route %s: %w", k, err))
		}
	}
	return errors.Join(append(errs, writeRules(h, p, links))...)
}

// writeRules keeps one "fwmark M lookup M" rule per reachable backend.
func writeRules(h *netlink.Handle, p Plan, links map[netip.Addr]link) error {
	want := map[uint32]bool{}
	for _, fr := range p.ForwardingRules {
		for _, b := range fr.Backends {
			if _, ok := links[b.IP]; ok {
				want[backendMark(b.IP)] = true
			}
		}
	}
	filter := netlink.NewRule()
	filter.Priority = rulePriority
	have, err := h.RuleListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_PRIORITY)
	if err != nil {
		return fmt.Errorf("list ip rules: %w", err)
	}
	var errs []error
	for _, r := range have {
		if want[r.Mark] && r.Table == int(r.Mark) {
			delete(want, r.Mark)
			continue
		}
		if err := h.RuleDel(&r); err != nil {
			errs = append(errs, fmt.Errorf("delete ip rule fwmark %#x: %w", r.Mark, err))
		}
	}
	for m := range want {
		r := netlink.NewRule()
		r.Family, r.Priority, r.Mark, r.Table = netlink.FAMILY_V4, rulePriority, m, int(m)
		if err := h.RuleAdd(r); err != nil {
			errs = append(errs, fmt.Errorf("add ip rule fwmark %#x lookup %d: %w", m, m, err))
		}
	}
	return errors.Join(errs...)
}

// clearRouting deletes every ip rule and route the data plane added.
func clearRouting(h *netlink.Handle) error {
	return writeRouting(h, Plan{}, nil)
}

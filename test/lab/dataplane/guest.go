package dataplane

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// GCE's guest environment on the instances. For each forwarding rule an
// instance backs, the guest agent makes the rule's address local on the
// instance's interface (`ip route add to local IP/32 scope host dev eth0
// proto 66`, the forwarded IPs it reads from the metadata server:
// GoogleCloudPlatform/guest-agent google_guest_agent/addresses.go,
// addLocalRoute). A packet to that address which nothing on the instance
// serves (kube-proxy has no rule for it: a stale status, ipMode Proxy) is
// then answered by the instance itself, with a reset, instead of being
// routed back into the VPC.

// guestRouteProtocol is the guest agent's default ethernet_proto_id, the
// protocol of the local routes it adds and the only ones it removes.
const guestRouteProtocol netlink.RouteProtocol = 66

// guestLink is the instance's interface in the lab's namespaces.
const guestLink = "eth0"

// ForwardedIPs are, by instance address, the addresses of the forwarding
// rules the instance backs, sorted: what the guest agent makes local.
func ForwardedIPs(p Plan) map[netip.Addr][]netip.Addr {
	out := map[netip.Addr][]netip.Addr{}
	for _, fr := range p.ForwardingRules {
		for _, b := range fr.Backends {
			if !slices.Contains(out[b.IP], fr.IP) {
				out[b.IP] = append(out[b.IP], fr.IP)
			}
		}
	}
	for _, ips := range out {
		slices.SortFunc(ips, netip.Addr.Compare)
	}
	return out
}

// applyGuests gives each guest namespace the local routes of the
// forwarding rules its instance backs, and removes the others it added.
func (d *dataplane) applyGuests(want map[netip.Addr][]netip.Addr) error {
	var errs []error
	for _, ip := range slices.SortedFunc(maps.Keys(d.guests), netip.Addr.Compare) {
		if err := setLocalRoutes(d.guests[ip], want[ip]); err != nil {
			errs = append(errs, fmt.Errorf("guest environment of %s: %w", ip, err))
		}
	}
	return errors.Join(errs...)
}

// setLocalRoutes makes exactly ips local on guestLink in n, among the
// routes of guestRouteProtocol.
func setLocalRoutes(n *namespace, ips []netip.Addr) error {
	l, err := n.nl.LinkByName(guestLink)
	if err != nil {
		return fmt.Errorf("find link %s: %w", guestLink, err)
	}
	have, err := n.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: guestRouteProtocol, Table: unix.RT_TABLE_LOCAL},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list local routes: %w", err)
	}
	for _, r := range have {
		if a, ok := netip.AddrFromSlice(r.Dst.IP); ok && slices.Contains(ips, a.Unmap()) {
			continue
		}
		if err := n.nl.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("delete local route %s: %w", r.Dst, err)
		}
	}
	for _, ip := range ips {
		r := netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(netip.PrefixFrom(ip, 32)), Scope: netlink.SCOPE_HOST,
			Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL, Protocol: guestRouteProtocol}
		if err := n.nl.RouteReplace(&r); err != nil {
			return fmt.Errorf("add local route %s: %w", ip, err)
		}
	}
	return nil
}

package fakegce

import (
	"fmt"
	"net/http"
	"net/netip"
)

// Address management: external addresses come from Config.ExternalIPRange and
// are unique across every project (it is one cloud); internal ones come from a
// subnetwork's range, without its first two and last two addresses, which
// the VPC keeps for itself.

// externalInUse maps every external IP held by a reserved address, a forwarding
// rule or an instance's access config to the link of what holds it.
func externalInUse(t *tx, projects []string) map[string]string {
	used := map[string]string{}
	for _, p := range projects {
		for _, a := range t.listAll(p, "addresses") {
			if str(a, "addressType") != "INTERNAL" && str(a, "address") != "" {
				used[str(a, "address")] = str(a, "selfLink")
			}
		}
		for _, f := range t.listAll(p, "forwardingRules") {
			if str(f, "loadBalancingScheme") == "EXTERNAL" {
				if _, ok := used[ruleIP(f)]; !ok {
					used[ruleIP(f)] = str(f, "selfLink")
				}
			}
		}
		for _, inst := range t.listAll(p, "instances") {
			for _, ac := range accessConfigs(inst) {
				if ip := str(ac, "natIP"); ip != "" {
					if _, ok := used[ip]; !ok {
						used[ip] = str(inst, "selfLink")
					}
				}
			}
		}
	}
	return used
}

func accessConfigs(inst map[string]any) []map[string]any {
	var out []map[string]any
	for _, n := range list(inst, "networkInterfaces") {
		nic, _ := n.(map[string]any)
		for _, a := range list(nic, "accessConfigs") {
			if ac, ok := a.(map[string]any); ok {
				out = append(out, ac)
			}
		}
	}
	return out
}

func (s *Server) allocateExternal(t *tx) (string, error) {
	pfx, err := netip.ParsePrefix(s.cfg.ExternalIPRange)
	if err != nil {
		return "", err
	}
	used := externalInUse(t, s.cfg.Projects)
	return firstFree(pfx.Masked(), used, 1, 1, "IN_USE_ADDRESSES")
}

func (s *Server) inExternalRange(ip string) bool {
	pfx, err := netip.ParsePrefix(s.cfg.ExternalIPRange)
	a, err2 := netip.ParseAddr(ip)
	return err == nil && err2 == nil && pfx.Contains(a)
}

// internalInUse maps internal IPs of a subnetwork to their holder.
func internalInUse(t *tx, project, subnetLink string) map[string]string {
	used := map[string]string{}
	for _, inst := range t.listAll(project, "instances") {
		for _, n := range list(inst, "networkInterfaces") {
			nic, _ := n.(map[string]any)
			if str(nic, "subnetwork") == subnetLink {
				used[str(nic, "networkIP")] = str(inst, "selfLink")
			}
		}
	}
	for _, a := range t.listAll(project, "addresses") {
		if str(a, "addressType") == "INTERNAL" && str(a, "subnetwork") == subnetLink {
			used[str(a, "address")] = str(a, "selfLink")
		}
	}
	for _, f := range t.listAll(project, "forwardingRules") {
		if str(f, "loadBalancingScheme") != "EXTERNAL" && str(f, "subnetwork") == subnetLink {
			if _, ok := used[ruleIP(f)]; !ok {
				used[ruleIP(f)] = str(f, "selfLink")
			}
		}
	}
	return used
}

func allocateInternal(t *tx, project string, subnet map[string]any) (string, error) {
	pfx, err := netip.ParsePrefix(str(subnet, "ipCidrRange"))
	if err != nil {
		return "", invalid("Subnetwork %s has no usable range.", str(subnet, "name"))
	}
	return firstFree(pfx.Masked(), internalInUse(t, project, str(subnet, "selfLink")), 2, 2, "SUBNETWORK_IP_SPACE")
}

// usableInSubnet reports whether ip is an address of the subnetwork that an
// instance or internal address may hold.
func usableInSubnet(subnet map[string]any, ip string) bool {
	pfx, err := netip.ParsePrefix(str(subnet, "ipCidrRange"))
	a, err2 := netip.ParseAddr(ip)
	if err != nil || err2 != nil || !pfx.Contains(a) {
		return false
	}
	first := pfx.Masked().Addr().Next()
	last := lastAddr(pfx)
	return a != pfx.Masked().Addr() && a != first && a != last && a != prevAddr(last)
}

// firstFree returns the lowest address of pfx not in used, skipping skipLow
// addresses at the start and skipHigh at the end.
func firstFree(pfx netip.Prefix, used map[string]string, skipLow, skipHigh int, exhausted string) (string, error) {
	a := pfx.Addr()
	for i := 0; i < skipLow; i++ {
		a = a.Next()
	}
	end := lastAddr(pfx)
	for i := 0; i < skipHigh-1; i++ {
		end = prevAddr(end)
	}
	for ; a.IsValid() && a.Less(end); a = a.Next() {
		if _, ok := used[a.String()]; !ok {
			return a.String(), nil
		}
	}
	return "", errorf(http.StatusForbidden, "quotaExceeded", "%s exhausted: no free address left in %s.", exhausted, pfx)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		return a.Unmap()
	}
	return a
}

func prevAddr(a netip.Addr) netip.Addr { return a.Prev() }

// parseCIDR checks a range the way the API does and returns it.
func parseCIDR(field, s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, invalidValue(field, s, fmt.Sprintf("Must be a CIDR range such as 10.0.0.0/24 (%v).", err))
	}
	return p, nil
}

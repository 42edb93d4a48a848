package fakegce

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
)

// IPv6: a dual-stack subnetwork (stackType IPV4_IPV6 or IPV6_ONLY) gets a
// /64 (externalIpv6Prefix for ipv6AccessType EXTERNAL, internalIpv6Prefix
// for INTERNAL), and external IPv6 addresses and forwarding rules take /96
// blocks of it, as the API hands them out (prefixLength 96). The prefixes
// come from documentation-like ranges chosen by a hash of the subnetwork,
// so they are stable across restarts.

func ipv6Defaults(sub map[string]any) error {
	stack := str(sub, "stackType")
	if stack == "IPV4_ONLY" || stack == "" {
		delete(sub, "externalIpv6Prefix")
		delete(sub, "internalIpv6Prefix")
		return nil
	}
	h := fnv.New32a()
	h.Write([]byte(str(sub, "selfLink")))
	n := h.Sum32()
	switch str(sub, "ipv6AccessType") {
	case "EXTERNAL":
		sub["externalIpv6Prefix"] = fmt.Sprintf("2600:1900:%x:%x::/64", 0x4000+(n>>16)%0x1000, n&0xffff)
		delete(sub, "internalIpv6Prefix")
	case "INTERNAL":
		sub["internalIpv6Prefix"] = fmt.Sprintf("fd20:%x:%x::/64", n>>16, n&0xffff)
		delete(sub, "externalIpv6Prefix")
	default:
		return required("resource.ipv6AccessType")
	}
	return nil
}

// ipv6InUse lists the /96 blocks of a subnetwork held by addresses and
// forwarding rules.
func ipv6InUse(t *tx, project, subnetLink string) map[string]string {
	used := map[string]string{}
	for _, a := range t.listAll(project, "addresses") {
		if str(a, "ipVersion") == "IPV6" && str(a, "subnetwork") == subnetLink {
			used[str(a, "address")] = str(a, "selfLink")
		}
	}
	for _, f := range t.listAll(project, "forwardingRules") {
		if str(f, "ipVersion") == "IPV6" && str(f, "subnetwork") == subnetLink {
			if _, ok := used[ruleIP(f)]; !ok {
				used[ruleIP(f)] = str(f, "selfLink")
			}
		}
	}
	return used
}

// allocateIPv6 returns a free /96 of the subnetwork's external prefix.
func allocateIPv6(t *tx, project string, sub map[string]any) (string, error) {
	pfx, err := netip.ParsePrefix(str(sub, "externalIpv6Prefix"))
	if err != nil {
		return "", invalidValue("resource.subnetwork", str(sub, "selfLink"), "The subnetwork has no external IPv6 range (stackType IPV4_IPV6, ipv6AccessType EXTERNAL).")
	}
	used := ipv6InUse(t, project, str(sub, "selfLink"))
	base := pfx.Masked().Addr().As16()
	for k := uint32(1); k < 1<<16; k++ {
		a := base
		a[8], a[9], a[10], a[11] = byte(k>>24), byte(k>>16), byte(k>>8), byte(k)
		ip := netip.AddrFrom16(a).String()
		if _, ok := used[ip]; !ok {
			return ip, nil
		}
	}
	return "", errorf(403, "quotaExceeded", "No free IPv6 range left in %s.", pfx)
}

// externalIPv6 fills an external IPv6 address or forwarding rule: it needs
// a dual-stack subnetwork with an external range, and gets (or checks) a /96.
func externalIPv6(t *tx, c *call, obj map[string]any, ipField string) error {
	if str(obj, "subnetwork") == "" {
		return required("resource.subnetwork")
	}
	r, _ := parseRef(str(obj, "subnetwork"), ref{})
	sub := t.get(r.coll(), r.Name)
	ip := strings.TrimSuffix(str(obj, ipField), "/96")
	if ip == "" {
		var err error
		if ip, err = allocateIPv6(t, c.project, sub); err != nil {
			return err
		}
	} else if a, err := netip.ParseAddr(ip); err != nil || !a.Is6() {
		return invalidValue("resource."+ipField, ip, "Must be an IPv6 address.")
	}
	obj[ipField] = ip
	return nil
}

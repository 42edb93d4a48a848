package fakegce

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/protoport"
)

// Addresses and forwarding rules: the front end of a load balancer.

func init() {
	register(&kind{resource: "addresses", schema: "Address", quota: "STATIC_ADDRESSES",
		refs: []refSpec{
			{path: "network", collection: "networks", scope: "global", blocksDelete: true},
			{path: "subnetwork", collection: "subnetworks", scope: "region", blocksDelete: true},
		},
		prepare: prepareAddress, beforeDelete: checkAddressUnused})
	register(&kind{resource: "forwardingRules", schema: "ForwardingRule", fingerprint: true,
		refs: []refSpec{
			{path: "network", collection: "networks", scope: "global", blocksDelete: true},
			{path: "subnetwork", collection: "subnetworks", scope: "region", blocksDelete: true},
			{path: "target", scope: "region", blocksDelete: true},
			{path: "backendService", collection: "backendServices", scope: "region", blocksDelete: true},
		},
		prepare: prepareForwardingRule, beforeDelete: releaseForwardingRuleAddress,
		custom: map[string]handler{
			"setTarget": {mutation: &mutation{apply: setTarget, opType: "SetTarget"}},
		}})
}

func prepareAddress(t *tx, c *call, obj, old map[string]any) error {
	// ipVersion stays absent unless sent: the recorded regional address
	// has none (fixtures/gcp-http-logs, computeforwardingrule).
	setDefault(obj, "addressType", "EXTERNAL")
	obj["status"] = "RESERVED"
	internal := str(obj, "addressType") == "INTERNAL"
	if !internal && str(obj, "ipVersion") == "IPV6" {
		// An external IPv6 address is a /96 of a dual-stack subnetwork.
		setDefault(obj, "networkTier", "PREMIUM")
		setDefault(obj, "ipv6EndpointType", "NETLB")
		obj["prefixLength"] = num(96)
		return externalIPv6(t, c, obj, "address")
	}
	if !internal {
		setDefault(obj, "networkTier", "PREMIUM")
		if str(obj, "subnetwork") != "" {
			return invalidValue("resource.subnetwork", str(obj, "subnetwork"), "An EXTERNAL address has no subnetwork.")
		}
	}
	ip := str(obj, "address")
	if internal {
		setDefault(obj, "purpose", "GCE_ENDPOINT")
		sub, err := subnetworkFor(t, c, obj)
		if err != nil {
			return err
		}
		obj["subnetwork"] = str(sub, "selfLink")
		delete(obj, "network")
		used := internalInUse(t, c.project, str(sub, "selfLink"))
		if ip == "" {
			if ip, err = allocateInternal(t, c.project, sub); err != nil {
				return err
			}
		} else if !usableInSubnet(sub, ip) {
			return invalidValue("resource.address", ip, "The address is not a usable address of subnetwork "+str(sub, "name")+".")
		} else if user, taken := used[ip]; taken && strings.Contains(user, "/addresses/") {
			return addressTaken(ip, user, obj)
		} else if taken {
			// Promoting the ephemeral IP of a forwarding rule or an instance
			// keeps it in use; upstream's internal load balancer reserves
			// its rule's IP this way on every resync (kubernetes/cloud-provider-gcp
			// providers/gce/gce_address_manager.go HoldAddress;
			// https://cloud.google.com/vpc/docs/reserve-static-internal-ip-address).
			obj["status"] = "IN_USE"
			obj["users"] = []any{user}
		}
		obj["address"] = ip
		return nil
	}
	used := externalInUse(t, c.s.cfg.Projects)
	if ip == "" {
		var err error
		if ip, err = c.s.allocateExternal(t); err != nil {
			return err
		}
		obj["address"] = ip
		return nil
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return invalidValue("resource.address", ip, "Must be an IP address.")
	}
	user, taken := used[ip]
	switch {
	case taken && strings.Contains(user, "/addresses/"):
		return addressTaken(ip, user, obj)
	case taken:
		// Promoting an ephemeral address that is in use keeps it in use.
		obj["status"] = "IN_USE"
		obj["users"] = []any{user}
	case !c.s.inExternalRange(ip):
		return invalidValue("resource.address", ip, "The address is not available in this region (the external range is "+c.s.cfg.ExternalIPRange+").")
	}
	return nil
}

func addressTaken(ip, user string, obj map[string]any) error {
	return invalid("IP address '%s' is already being used by '%s'.", ip, strings.TrimPrefix(user, linkBase))
}

// subnetworkFor finds the subnetwork an internal address or forwarding rule
// lives in: the one it names, or the one its network has in the region.
func subnetworkFor(t *tx, c *call, obj map[string]any) (map[string]any, error) {
	if s := str(obj, "subnetwork"); s != "" {
		r, _ := parseRef(s, ref{})
		return t.get(r.coll(), r.Name), nil
	}
	network := str(obj, "network")
	if network == "" {
		network = linkBase + "projects/" + c.project + "/global/networks/default"
	}
	for _, sub := range t.list("projects/" + c.project + "/regions/" + c.region + "/subnetworks") {
		if str(sub, "network") == network {
			return sub, nil
		}
	}
	return nil, invalidValue("resource.subnetwork", "", "A subnetwork is required: network "+lastSegment(network)+" has none in region "+c.region+".")
}

// checkAddressUnused refuses to release an address an instance uses. An
// address that only forwarding rules use is released: the rules keep its IP
// as an ephemeral one. Upstream's load balancers rely on this: they reserve
// an address, create the rule and release the address at once, "which just
// demotes it to ephemeral" (kubernetes/cloud-provider-gcp
// providers/gce/gce_loadbalancer_external.go; gce_loadbalancer_internal.go
// does the same).
func checkAddressUnused(t *tx, c *call, obj map[string]any) error {
	for _, u := range strList(obj, "users") {
		if r, ok := parseRef(u, ref{}); !ok || r.Collection != "forwardingRules" {
			return inUse("address", c.resourcePath(c.name), strings.TrimPrefix(u, linkBase))
		}
	}
	return nil
}

// addressByIP finds the reserved address holding ip in a region.
func addressByIP(t *tx, project, region, ip string) map[string]any {
	for _, a := range t.list("projects/" + project + "/regions/" + region + "/addresses") {
		if str(a, "address") == ip {
			return a
		}
	}
	return nil
}

func setAddressUser(t *tx, addr map[string]any, user string, add bool) {
	r, _ := parseRef(str(addr, "selfLink"), ref{})
	a := copyObj(addr)
	var us []string
	for _, u := range strList(a, "users") {
		if u != user {
			us = append(us, u)
		}
	}
	if add {
		us = append(us, user)
	}
	if len(us) == 0 {
		delete(a, "users")
		a["status"] = "RESERVED"
	} else {
		a["users"] = toAnyList(us)
		a["status"] = "IN_USE"
	}
	t.put(r.coll(), r.Name, a)
}

func prepareForwardingRule(t *tx, c *call, obj, old map[string]any) error {
	setDefault(obj, "IPProtocol", "TCP")
	setDefault(obj, "loadBalancingScheme", "EXTERNAL")
	scheme := str(obj, "loadBalancingScheme")
	external := scheme == "EXTERNAL" || scheme == "EXTERNAL_MANAGED"
	if external {
		setDefault(obj, "networkTier", "PREMIUM")
	}
	if old != nil {
		for _, f := range []string{"IPAddress", "IPProtocol", "portRange", "loadBalancingScheme", "target", "backendService"} {
			if jsonText(obj[f]) != jsonText(old[f]) {
				return invalid("Invalid value for field 'resource.%s': the field cannot be changed by patch; recreate the forwarding rule.", f)
			}
		}
		return nil
	}
	if (str(obj, "target") == "") == (str(obj, "backendService") == "") {
		return invalid("Invalid value for field 'resource': exactly one of 'target' or 'backendService' must be specified.")
	}
	if err := normalizePorts(obj); err != nil {
		return err
	}
	if link := str(obj, "backendService"); link != "" {
		r, _ := parseRef(link, ref{})
		if bs := t.get(r.coll(), r.Name); bs != nil && !protocolFits(str(obj, "IPProtocol"), str(bs, "protocol")) {
			return invalidValue("IPProtocol", str(obj, "IPProtocol"), fmt.Sprintf(
				"invalid backend service protocol %s for forwarding rule with protocol %s", str(bs, "protocol"), str(obj, "IPProtocol")))
		}
	}
	if external && str(obj, "ipVersion") == "IPV6" {
		return ipv6ForwardingRule(t, c, obj)
	}
	ip := str(obj, "IPAddress")
	if ip != "" && !isIPLiteral(ip) {
		r, ok := parseRef(ip, c.def("addresses"))
		var a map[string]any
		if ok && r.Collection == "addresses" {
			a = t.get(r.coll(), r.Name)
		}
		if a == nil {
			return invalidValue("resource.IPAddress", ip, "The referenced address resource cannot be found.")
		}
		ip = str(a, "address")
	}
	if external {
		if ip == "" {
			var err error
			if ip, err = c.s.allocateExternal(t); err != nil {
				return err
			}
		} else {
			a := addressByIP(t, c.project, c.region, ip)
			if a == nil || str(a, "addressType") == "INTERNAL" {
				return invalidValue("resource.IPAddress", ip, "The IP address is not a reserved external address in region "+c.region+".")
			}
			if tier := str(a, "networkTier"); tier != str(obj, "networkTier") {
				return invalid("The network tier of specified IP address is %s, that of Forwarding Rule must be the same.", tier)
			}
			if err := checkIPConflicts(t, c, obj, a, ip); err != nil {
				return err
			}
			setAddressUser(t, a, str(obj, "selfLink"), true)
		}
	} else {
		sub, err := subnetworkFor(t, c, obj)
		if err != nil {
			return err
		}
		obj["subnetwork"] = str(sub, "selfLink")
		setDefault(obj, "network", str(sub, "network"))
		if ip == "" {
			if ip, err = allocateInternal(t, c.project, sub); err != nil {
				return err
			}
		} else if a := addressByIP(t, c.project, c.region, ip); a != nil {
			if err := checkIPConflicts(t, c, obj, a, ip); err != nil {
				return err
			}
			setAddressUser(t, a, str(obj, "selfLink"), true)
		} else if !usableInSubnet(sub, ip) {
			return invalidValue("resource.IPAddress", ip, "The address is not a usable address of subnetwork "+str(sub, "name")+".")
		}
	}
	obj["IPAddress"] = ip
	return nil
}

func isIPLiteral(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// normalizePorts checks portRange / ports / allPorts and writes portRange in
// the API's "lo-hi" form.
func normalizePorts(obj map[string]any) error {
	pr := str(obj, "portRange")
	ports := strList(obj, "ports")
	all := boolField(obj, "allPorts")
	n := 0
	for _, set := range []bool{pr != "", len(ports) > 0, all} {
		if set {
			n++
		}
	}
	if n > 1 {
		return invalid("Invalid value for field 'resource': at most one of portRange, ports and allPorts may be given.")
	}
	if pr != "" {
		r, err := protoport.ParsePortRange(pr)
		if err != nil || r.First < 1 {
			return invalidValue("resource.portRange", pr, "Must be a port or a range such as 80 or 8000-8080, from 1 to 65535.")
		}
		// The API answers a range even for one port ("80-80").
		obj["portRange"] = strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
	}
	if len(ports) > 5 {
		return invalidValue("resource.ports", strings.Join(ports, ","), "At most 5 ports may be given; use portRange or allPorts.")
	}
	for i, p := range ports {
		if v, err := strconv.Atoi(p); err != nil || v < 1 || v > 65535 {
			return invalidValue("resource.ports["+strconv.Itoa(i)+"]", p, "Must be a port from 1 to 65535.")
		}
	}
	return nil
}

// checkIPConflicts refuses a second forwarding rule on an address when both
// would take the same protocol and port.
func checkIPConflicts(t *tx, c *call, obj, addr map[string]any, ip string) error {
	for _, u := range strList(addr, "users") {
		r, ok := parseRef(u, ref{})
		if !ok || r.Collection != "forwardingRules" {
			continue
		}
		other := t.get(r.coll(), r.Name)
		if other == nil || !samePorts(obj, other) {
			continue
		}
		return invalidValue("resource.IPAddress", ip, "Specified IP address is in-use and would result in a conflict.")
	}
	return nil
}

func samePorts(a, b map[string]any) bool {
	pa, pb := str(a, "IPProtocol"), str(b, "IPProtocol")
	if pa != pb && pa != "L3_DEFAULT" && pb != "L3_DEFAULT" {
		return false
	}
	ra, rb := portSet(a), portSet(b)
	for _, x := range ra {
		for _, y := range rb {
			if x[0] <= y[1] && y[0] <= x[1] {
				return true
			}
		}
	}
	return false
}

func portSet(o map[string]any) [][2]int {
	if pr := str(o, "portRange"); pr != "" {
		r, _ := protoport.ParsePortRange(pr)
		return [][2]int{{int(r.First), int(r.Last)}}
	}
	var out [][2]int
	for _, p := range strList(o, "ports") {
		v, _ := strconv.Atoi(p)
		out = append(out, [2]int{v, v})
	}
	if len(out) == 0 {
		out = [][2]int{{1, 65535}}
	}
	return out
}

func releaseForwardingRuleAddress(t *tx, c *call, obj map[string]any) error {
	if a := addressByIP(t, c.project, c.region, ruleIP(obj)); a != nil {
		setAddressUser(t, a, str(obj, "selfLink"), false)
	}
	return nil
}

func setTarget(t *tx, c *call) error {
	old := t.get(c.coll, c.name)
	if old == nil {
		return notFound(c.resourcePath(c.name))
	}
	target := str(c.body, "target")
	if target == "" {
		return required("target")
	}
	r, ok := parseRef(target, c.def(""))
	if !ok || t.get(r.coll(), r.Name) == nil {
		return invalidValue("target", target, "The referenced target resource cannot be found.")
	}
	obj := copyObj(old)
	obj["target"] = r.link()
	obj["fingerprint"] = resourceFingerprint(obj)
	t.put(c.coll, c.name, obj)
	return nil
}

// ipv6ForwardingRule fills an external IPv6 forwarding rule: its address is
// a reserved IPv6 address of the region (named, or by IP with its /96) or a
// new /96 of its subnetwork. The API refuses a bare IPv6 address here and
// answers the rule's address in CIDR form, ADDRESS/96 (kubernetes/ingress-gce
// pkg/l4resources/forwarding_rules_ipv6.go: "for creating external IPv6
// forwarding rule, address has to be specified with /96 prefix, or API will
// return error"; pkg/l4/address/to_use.go: "Google Cloud creates ipv6
// forwarding rules with IPAddress in CIDR form"). The refusal's wording is a
// guess.
func ipv6ForwardingRule(t *tx, c *call, obj map[string]any) error {
	if str(obj, "target") != "" {
		return invalidValue("resource.target", str(obj, "target"), "An IPv6 forwarding rule needs a backend service; target pools carry IPv4 only.")
	}
	ip := str(obj, "IPAddress")
	if isIPLiteral(ip) {
		return invalidValue("resource.IPAddress", ip, "An external IPv6 forwarding rule takes its address with its prefix length: "+ip+"/96.")
	}
	if pfx, err := netip.ParsePrefix(ip); err == nil {
		if pfx.Bits() != 96 || !pfx.Addr().Is6() {
			return invalidValue("resource.IPAddress", ip, "An external IPv6 forwarding rule's range is a /96.")
		}
		ip = pfx.Addr().String()
	}
	if ip != "" && !isIPLiteral(ip) {
		r, ok := parseRef(ip, c.def("addresses"))
		var a map[string]any
		if ok && r.Collection == "addresses" {
			a = t.get(r.coll(), r.Name)
		}
		if a == nil {
			return invalidValue("resource.IPAddress", ip, "The referenced address resource cannot be found.")
		}
		ip = str(a, "address")
	}
	obj["IPAddress"] = ip
	if err := externalIPv6(t, c, obj, "IPAddress"); err != nil {
		return err
	}
	ip = str(obj, "IPAddress")
	if a := addressByIP(t, c.project, c.region, ip); a != nil {
		if err := checkIPConflicts(t, c, obj, a, ip); err != nil {
			return err
		}
		setAddressUser(t, a, str(obj, "selfLink"), true)
	}
	obj["IPAddress"] = ip + "/96"
	return nil
}

// ruleIP is a forwarding rule's address without the /96 an external IPv6
// rule carries.
func ruleIP(fr map[string]any) string {
	ip, _, _ := strings.Cut(str(fr, "IPAddress"), "/")
	return ip
}

package fakegce

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/protoport"
)

// Networks, subnetworks, firewalls and routes.

func init() {
	register(&kind{resource: "networks", schema: "Network", quota: "NETWORKS",
		prepare: prepareNetwork, beforeDelete: deleteNetworkOwned})
	register(&kind{resource: "subnetworks", schema: "Subnetwork", fingerprint: true,
		refs:    []refSpec{{path: "network", collection: "networks", scope: "global", blocksDelete: true, sameProject: true}},
		prepare: prepareSubnetwork, beforeDelete: unlinkSubnetwork,
		custom: map[string]handler{
			"setPrivateIpGoogleAccess": {mutation: &mutation{apply: setPrivateIPGoogleAccess}},
		}})
	register(&kind{resource: "firewalls", schema: "Firewall",
		fill: func(t *tx, c *call, obj map[string]any) error {
			setDefault(obj, "network", "global/networks/default")
			return nil
		},
		refs:    []refSpec{{path: "network", collection: "networks", scope: "global", blocksDelete: true, sameProject: true}},
		prepare: prepareFirewall})
	register(&kind{resource: "routes", schema: "Route",
		refs: []refSpec{
			{path: "network", collection: "networks", scope: "global", blocksDelete: true, sameProject: true},
			{path: "nextHopInstance", collection: "instances", scope: "zone"},
		},
		prepare: prepareRoute})
}

func prepareNetwork(t *tx, c *call, obj, old map[string]any) error {
	if old != nil {
		if subs, ok := old["subnetworks"]; ok {
			obj["subnetworks"] = subs
		}
		if str(obj, "IPv4Range") != str(old, "IPv4Range") || obj["autoCreateSubnetworks"] != old["autoCreateSubnetworks"] {
			return invalid("Invalid value for field 'resource.autoCreateSubnetworks': a network's mode and range cannot be changed by patch.")
		}
		return nil
	}
	if _, legacy := obj["IPv4Range"]; !legacy {
		setDefault(obj, "autoCreateSubnetworks", true)
	}
	// The recorded networks (fixtures/gcp-http-logs: computeroute,
	// computesubnetwork, computenetwork) have no mtu unless it was sent, and
	// a routingConfig only when one was sent, then with
	// bgpBestPathSelectionMode LEGACY added.
	setDefault(obj, "networkFirewallPolicyEnforcementOrder", "AFTER_CLASSIC_FIREWALL")
	if rc := objField(obj, "routingConfig"); rc != nil {
		setDefault(rc, "routingMode", "REGIONAL")
		setDefault(rc, "bgpBestPathSelectionMode", "LEGACY")
	}
	delete(obj, "subnetworks")
	netLink := str(obj, "selfLink")
	if boolField(obj, "autoCreateSubnetworks") {
		var subs []any
		for i, region := range c.s.cfg.Regions {
			sub := autoSubnetwork(t, c, obj, region, i)
			t.put("projects/"+c.project+"/regions/"+region+"/subnetworks", str(obj, "name"), sub)
			subs = append(subs, str(sub, "selfLink"))
		}
		obj["subnetworks"] = subs
	}
	route := map[string]any{
		"kind": "compute#route", "id": t.newID(), "creationTimestamp": timestamp(c.now),
		"name": "default-route-" + str(obj, "id")[:16], "description": "Default route to the Internet.",
		"network": netLink, "destRange": "0.0.0.0/0", "priority": num(1000), "routeType": "STATIC",
		"nextHopGateway": linkBase + "projects/" + c.project + "/global/gateways/default-internet-gateway",
	}
	route["selfLink"] = linkBase + "projects/" + c.project + "/global/routes/" + str(route, "name")
	t.put("projects/"+c.project+"/global/routes", str(route, "name"), route)
	return nil
}

// autoSubnetwork is the subnetwork an auto-mode network gets in a region:
// a /20 out of 10.128.0.0/9, one per region in catalog order.
func autoSubnetwork(t *tx, c *call, network map[string]any, region string, i int) map[string]any {
	base := netip.MustParseAddr("10.128.0.0").As4()
	off := uint32(i) << 12
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += off
	cidr := fmt.Sprintf("%d.%d.%d.%d/20", byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	name := str(network, "name")
	sub := map[string]any{
		"kind": "compute#subnetwork", "id": t.newID(), "creationTimestamp": timestamp(c.now), "name": name,
		"network": str(network, "selfLink"), "ipCidrRange": cidr, "region": scopeLink(c.project, "regions", region),
		"selfLink": linkBase + "projects/" + c.project + "/regions/" + region + "/subnetworks/" + name,
	}
	subnetDefaults(sub)
	sub["fingerprint"] = resourceFingerprint(sub)
	return sub
}

func subnetDefaults(sub map[string]any) {
	p := netip.MustParsePrefix(str(sub, "ipCidrRange"))
	sub["gatewayAddress"] = p.Masked().Addr().Next().String()
	setDefault(sub, "privateIpGoogleAccess", false)
	setDefault(sub, "stackType", "IPV4_ONLY")
	setDefault(sub, "purpose", "PRIVATE")
	setDefault(sub, "privateIpv6GoogleAccess", "DISABLE_GOOGLE_ACCESS")
	// No enableFlowLogs unless sent: the recorded subnetworks have none
	// (fixtures/gcp-http-logs, computesubnetwork and computeroute).
	// Output only: READY, or DRAINING while a subnetwork is being drained;
	// the fake never drains.
	sub["state"] = "READY"
}

// deleteNetworkOwned removes what the network brought with it: its default
// routes and, for an auto-mode network, its automatic subnetworks.
func deleteNetworkOwned(t *tx, c *call, obj map[string]any) error {
	link := str(obj, "selfLink")
	for _, r := range t.list("projects/" + c.project + "/global/routes") {
		if str(r, "network") == link && strings.HasPrefix(str(r, "name"), "default-route-") && str(r, "nextHopGateway") != "" {
			t.del("projects/"+c.project+"/global/routes", str(r, "name"))
		}
	}
	if boolField(obj, "autoCreateSubnetworks") {
		for _, region := range c.s.cfg.Regions {
			coll := "projects/" + c.project + "/regions/" + region + "/subnetworks"
			if sub := t.get(coll, str(obj, "name")); sub != nil && str(sub, "network") == link {
				if us := users(t, c.project, str(sub, "selfLink")); len(us) > 0 {
					// Part of the network's delete: failed in its operation
					// (inUseInOperation).
					return inUse("subnetwork", strings.TrimPrefix(str(sub, "selfLink"), linkBase), strings.TrimPrefix(us[0], linkBase)).reportedInOperation()
				}
				t.del(coll, str(obj, "name"))
			}
		}
	}
	return nil
}

func prepareSubnetwork(t *tx, c *call, obj, old map[string]any) error {
	if str(obj, "network") == "" {
		return required("resource.network")
	}
	if str(obj, "ipCidrRange") == "" {
		return required("resource.ipCidrRange")
	}
	p, err := parseCIDR("resource.ipCidrRange", str(obj, "ipCidrRange"))
	if err != nil {
		return err
	}
	if !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 29 {
		return invalidValue("resource.ipCidrRange", str(obj, "ipCidrRange"), "The range must be IPv4 with a prefix length from /8 to /29.")
	}
	if p.Masked() != p {
		return invalid("Invalid IPCidrRange: %s has host bits set; did you mean %s?", p, p.Masked())
	}
	if old != nil {
		if str(old, "ipCidrRange") != str(obj, "ipCidrRange") {
			return invalid("Invalid value for field 'resource.ipCidrRange': use expandIpCidrRange to change a subnetwork's range.")
		}
		if str(old, "network") != str(obj, "network") {
			return invalid("Invalid value for field 'resource.network': a subnetwork cannot move to another network.")
		}
		subnetDefaults(obj)
		return ipv6Defaults(obj)
	}
	// The discovery document's Subnetwork.ipCidrRange: "Ranges must be unique
	// and non-overlapping within a network."
	for _, other := range t.listAll(c.project, "subnetworks") {
		if str(other, "network") != str(obj, "network") || str(other, "selfLink") == str(obj, "selfLink") {
			continue
		}
		op, err := netip.ParsePrefix(str(other, "ipCidrRange"))
		if err == nil && op.Overlaps(p) {
			return invalid("Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'.",
				p, str(other, "name"), lastSegment(str(other, "region")))
		}
	}
	subnetDefaults(obj)
	if err := ipv6Defaults(obj); err != nil {
		return err
	}
	netRef, _ := parseRef(str(obj, "network"), ref{})
	network := copyObj(t.get(netRef.coll(), netRef.Name))
	network["subnetworks"] = append(list(network, "subnetworks"), str(obj, "selfLink"))
	t.put(netRef.coll(), netRef.Name, network)
	return nil
}

func unlinkSubnetwork(t *tx, c *call, obj map[string]any) error {
	netRef, ok := parseRef(str(obj, "network"), ref{})
	if !ok {
		return nil
	}
	network := t.get(netRef.coll(), netRef.Name)
	if network == nil {
		return nil
	}
	network = copyObj(network)
	var keep []any
	for _, l := range strList(network, "subnetworks") {
		if l != str(obj, "selfLink") {
			keep = append(keep, l)
		}
	}
	if keep == nil {
		delete(network, "subnetworks")
	} else {
		network["subnetworks"] = keep
	}
	t.put(netRef.coll(), netRef.Name, network)
	return nil
}

func setPrivateIPGoogleAccess(t *tx, c *call) error {
	old := t.get(c.coll, c.name)
	if old == nil {
		return notFound(c.resourcePath(c.name))
	}
	v, ok := c.body["privateIpGoogleAccess"].(bool)
	if !ok {
		return required("privateIpGoogleAccess")
	}
	obj := copyObj(old)
	obj["privateIpGoogleAccess"] = v
	obj["fingerprint"] = resourceFingerprint(obj)
	t.put(c.coll, c.name, obj)
	return nil
}

func prepareFirewall(t *tx, c *call, obj, old map[string]any) error {
	setDefault(obj, "direction", "INGRESS")
	setDefault(obj, "priority", num(1000))
	setDefault(obj, "disabled", false)
	if objField(obj, "logConfig") == nil {
		obj["logConfig"] = map[string]any{"enable": false}
	}
	obj["enableLogging"] = boolField(objField(obj, "logConfig"), "enable")
	if p, ok := intField(obj, "priority"); !ok || p < 0 || p > 65535 {
		return invalidValue("resource.priority", obj["priority"], "Must be from 0 to 65535.")
	}
	for _, k := range []string{"allowed", "denied", "sourceRanges", "destinationRanges", "sourceTags", "targetTags", "sourceServiceAccounts", "targetServiceAccounts"} {
		if l, ok := obj[k].([]any); ok && len(l) == 0 {
			delete(obj, k)
		}
	}
	allowed, denied := list(obj, "allowed"), list(obj, "denied")
	if (len(allowed) == 0) == (len(denied) == 0) {
		return invalid("Invalid value for field 'resource': exactly one of 'allowed' or 'denied' must be specified.")
	}
	field := "allowed"
	rules := allowed
	if len(denied) > 0 {
		field, rules = "denied", denied
	}
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		if err := checkFirewallRule(fmt.Sprintf("resource.%s[%d]", field, i), rule); err != nil {
			return err
		}
	}
	egress := str(obj, "direction") == "EGRESS"
	if egress && (len(list(obj, "sourceTags")) > 0 || len(list(obj, "sourceServiceAccounts")) > 0) {
		return invalid("Invalid value for field 'resource.sourceTags': an EGRESS rule cannot have source tags or service accounts.")
	}
	if len(list(obj, "targetTags")) > 0 && len(list(obj, "targetServiceAccounts")) > 0 {
		return invalid("Invalid value for field 'resource.targetTags': target tags and target service accounts cannot be used together.")
	}
	for _, k := range []string{"sourceRanges", "destinationRanges"} {
		for i, r := range strList(obj, k) {
			if _, err := parseCIDR(fmt.Sprintf("resource.%s[%d]", k, i), r); err != nil {
				if _, err2 := netip.ParseAddr(r); err2 != nil {
					return err
				}
			}
		}
	}
	if err := checkFirewallFamilies(obj); err != nil {
		return err
	}
	// The default range is of the family of the ranges the rule names, so
	// that a rule of IPv6 destinations stays of one family.
	anywhere := "0.0.0.0/0"
	if rangesFamily(obj) == 6 {
		anywhere = "::/0"
	}
	if !egress && len(list(obj, "sourceRanges")) == 0 && len(list(obj, "sourceTags")) == 0 && len(list(obj, "sourceServiceAccounts")) == 0 {
		obj["sourceRanges"] = []any{anywhere}
	}
	if egress && len(list(obj, "destinationRanges")) == 0 {
		obj["destinationRanges"] = []any{anywhere}
	}
	for _, k := range []string{"sourceTags", "targetTags"} {
		for i, tag := range strList(obj, k) {
			if !validName(tag) {
				return invalidValue(fmt.Sprintf("resource.%s[%d]", k, i), tag, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
			}
		}
	}
	return nil
}

// checkFirewallFamilies refuses a rule whose source and destination ranges
// mix IPv4 and IPv6, as the compute API does: a rule is of one IP family,
// and a dual-stack service needs a rule per family. The first range of
// the other family than the rule's first range is named.
// Source: https://cloud.google.com/firewall/docs/using-firewalls ("A
// firewall rule can contain either IPv4 or IPv6 ranges, but not both.").
func checkFirewallFamilies(obj map[string]any) error {
	first := 0
	for _, k := range []string{"sourceRanges", "destinationRanges"} {
		for i, r := range strList(obj, k) {
			fam := rangeFamily(r)
			switch {
			case fam == 0:
			case first == 0:
				first = fam
			case fam != first:
				return invalidValue(fmt.Sprintf("resource.%s[%d]", k, i), r, "IPv4 and IPv6 ranges cannot be mixed in one firewall rule.")
			}
		}
	}
	return nil
}

// rangesFamily is the IP family (4 or 6) of a rule's first source or
// destination range, or 0 when it names none.
func rangesFamily(obj map[string]any) int {
	for _, k := range []string{"sourceRanges", "destinationRanges"} {
		for _, r := range strList(obj, k) {
			if fam := rangeFamily(r); fam != 0 {
				return fam
			}
		}
	}
	return 0
}

// rangeFamily is 4 or 6 for a CIDR range or an address, 0 for neither.
func rangeFamily(r string) int {
	a, err := netip.ParseAddr(r)
	if p, perr := netip.ParsePrefix(r); perr == nil {
		a, err = p.Addr(), nil
	}
	switch {
	case err != nil:
		return 0
	case a.Is4():
		return 4
	}
	return 6
}

// checkFirewallRule refuses an allowed[] or denied[] entry the API would
// refuse, naming the field under at ("resource.allowed[0]").
func checkFirewallRule(at string, rule map[string]any) error {
	_, err := protoport.ParseEntry(str(rule, "IPProtocol"), strList(rule, "ports"))
	var e *protoport.Error
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &e):
		return err
	case e.Missing:
		return required(at + "." + e.Field)
	}
	return invalidValue(at+"."+e.Field, e.Value, e.Reason)
}

var nextHops = []string{"nextHopInstance", "nextHopIp", "nextHopGateway", "nextHopVpnTunnel", "nextHopIlb", "nextHopNetwork"}

func prepareRoute(t *tx, c *call, obj, old map[string]any) error {
	if str(obj, "network") == "" {
		return required("resource.network")
	}
	if str(obj, "destRange") == "" {
		return required("resource.destRange")
	}
	if _, err := parseCIDR("resource.destRange", str(obj, "destRange")); err != nil {
		return err
	}
	n := 0
	for _, h := range nextHops {
		if str(obj, h) != "" {
			n++
		}
	}
	if n != 1 {
		return invalid("Invalid value for field 'resource': a route needs exactly one next hop (%s).", strings.Join(nextHops, ", "))
	}
	if gw := str(obj, "nextHopGateway"); gw != "" && lastSegment(gw) != "default-internet-gateway" {
		return invalidValue("resource.nextHopGateway", gw, "The only gateway is default-internet-gateway.")
	}
	if gw := str(obj, "nextHopGateway"); gw != "" {
		obj["nextHopGateway"] = linkBase + "projects/" + c.project + "/global/gateways/default-internet-gateway"
	}
	if ip := str(obj, "nextHopIp"); ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return invalidValue("resource.nextHopIp", ip, "Must be an IP address.")
		}
	}
	if inst := str(obj, "nextHopInstance"); inst != "" {
		r, _ := parseRef(inst, ref{Project: c.project})
		// A next-hop instance is named by name and zone and must be in the
		// same project as the route; a Shared VPC route to a service
		// project's VM names it by address (nextHopIp) instead
		// (https://docs.cloud.google.com/vpc/docs/static-routes, "Next hops
		// and features"). The wording of the error is a guess.
		if r.Project != "" && r.Project != c.project {
			return invalidValue("resource.nextHopInstance", inst, "The next hop instance must be in the same project as the route.")
		}
		i := t.get(r.coll(), r.Name)
		if nic := firstNIC(i); nic != nil && str(nic, "network") != str(obj, "network") {
			return invalidValue("resource.nextHopInstance", inst, "The instance is not on the route's network.")
		}
		if i != nil && !boolField(i, "canIpForward") {
			// The API accepts it but warns that the instance drops forwarded packets.
			obj["warnings"] = []any{map[string]any{"code": "NEXT_HOP_CANNOT_IP_FORWARD",
				"message": "Next hop instance '" + inst + "' cannot forward ip traffic. The next hop instance must have canIpForward set."}}
		}
	}
	// No routeType on a route a client created: the recorded one has none
	// (fixtures/gcp-http-logs, computeroute).
	setDefault(obj, "priority", num(1000))
	return nil
}

func firstNIC(inst map[string]any) map[string]any {
	if inst == nil {
		return nil
	}
	l := list(inst, "networkInterfaces")
	if len(l) == 0 {
		return nil
	}
	nic, _ := l[0].(map[string]any)
	return nic
}

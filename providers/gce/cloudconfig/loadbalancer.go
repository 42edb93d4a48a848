package cloudconfig

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

func (raw *rawConfig) validateLoadBalancer(c *Config) error {
	lb := raw.LoadBalancer
	c.LoadBalancer.Mode = ModeExternal
	switch strings.ToLower(lb.Mode) {
	case "", ModeExternal:
	case ModeNodeIP:
		c.LoadBalancer.Mode = ModeNodeIP
	default:
		return bad("load-balancer", "mode", "%q is not a mode (want external or nodeip)", lb.Mode)
	}
	switch strings.ToLower(lb.Backend) {
	case "target-pool":
		c.LoadBalancer.Backend = "target-pool"
	case "", "backend-service":
		c.LoadBalancer.Backend = "backend-service"
	default:
		return bad("load-balancer", "backend", "%q is not a backend (want target-pool or backend-service)", lb.Backend)
	}
	// Unset, the load balancers open to GCE's checkers of their own scheme
	// (nlb's checkerRanges); set, a family's ranges replace those.
	var err error
	if c.LoadBalancer.HealthCheckSourceRanges, err = parsePrefixes("health-check-source-ranges", lb.HealthCheckSourceRanges); err != nil {
		return err
	}
	if len(c.LoadBalancer.HealthCheckSourceRanges) > 0 && !slices.ContainsFunc(c.LoadBalancer.HealthCheckSourceRanges, func(p netip.Prefix) bool { return p.Addr().Is4() }) {
		// A firewall rule holds one family: IPv6 ranges open the IPv6
		// health-check rule, and the IPv4 rule needs sources of its own.
		return bad("load-balancer", "health-check-source-ranges", "has no IPv4 range (IPv6 ranges only replace the IPv6 health checkers' ranges)")
	}
	if err := raw.validateNodeIPReach(c); err != nil {
		return err
	}
	if c.LoadBalancer.UserAddresses, err = parseAddressGrants(lb.UserAddresses); err != nil {
		return err
	}
	if _, err := labels.Parse(lb.NodeSelector); err != nil {
		return bad("load-balancer", "nodeip-node-selector", "%q is not a label selector such as pool=edge,zone!=us-central1-c", lb.NodeSelector)
	}
	c.LoadBalancer.NodeSelector = lb.NodeSelector
	if c.LoadBalancer.PublishControlPlane, err = parseBool("load-balancer", "nodeip-publish-control-plane", lb.PublishControlPlane); err != nil {
		return err
	}
	return nil
}

// validateNodeIPReach checks the nodeip keys that say who may reach a
// Service and on which ports: its sources, the node address it publishes,
// the ports it may never take and how many it may ask for.
func (raw *rawConfig) validateNodeIPReach(c *Config) error {
	lb := raw.LoadBalancer
	ranges := lb.NodeIPSourceRanges
	var err error
	if len(ranges) == 0 {
		ranges = []string{"0.0.0.0/0"}
	}
	if c.LoadBalancer.NodeIPSourceRanges, err = parsePrefixes("nodeip-source-ranges", ranges); err != nil {
		return err
	}
	switch lb.NodeIPAddressType {
	case "", "InternalIP":
		c.LoadBalancer.NodeIPAddressType = "InternalIP"
	case "ExternalIP":
		c.LoadBalancer.NodeIPAddressType = "ExternalIP"
	default:
		return bad("load-balancer", "nodeip-address-type", "%q is not an address type (want InternalIP or ExternalIP)", lb.NodeIPAddressType)
	}
	ports := cmp.Or(lb.ReservedPorts, defaultReservedPorts)
	if c.LoadBalancer.ReservedPorts, err = parsePortList(ports); err != nil {
		return bad("load-balancer", "nodeip-reserved-ports", "%v", err)
	}
	nodePorts := cmp.Or(lb.NodePortRange, defaultNodePortRange)
	if r, err := parsePortList(nodePorts); err != nil || len(r) != 1 || r[0].From == r[0].To || r[0].Protocol != "" {
		return bad("load-balancer", "nodeip-node-port-range", "%q is not a port range such as 30000-32767", nodePorts)
	} else {
		c.LoadBalancer.NodePortRange = r[0]
	}
	// The ceiling bounds a decision's work and a firewall rule's size.
	c.LoadBalancer.NodeIPMaxPorts, err = wholeNumber("load-balancer", "nodeip-max-ports", lb.NodeIPMaxPorts, 1, 1000, defaultNodeIPMaxPorts)
	return err
}

// parseAddressGrants reads user-addresses: "namespace/address" entries,
// comma-separated or one a line, where the namespace may be * (every
// namespace) and the address is a name, an IP or * (every address).
func parseAddressGrants(vs []string) ([]AddressGrant, error) {
	var out []AddressGrant
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			ns, addr, ok := strings.Cut(s, "/")
			_, ipErr := netip.ParseAddr(addr)
			if !ok || (ns != "*" && len(validation.IsDNS1123Label(ns)) > 0) ||
				(addr != "*" && ipErr != nil && !nameRE.MatchString(addr)) {
				return nil, bad("load-balancer", "user-addresses",
					"%q is not namespace/address (a namespace or *, then an address name, an IP or *)", s)
			}
			out = append(out, AddressGrant{Namespace: ns, Address: addr})
		}
	}
	return out, nil
}

func parsePrefixes(key string, vs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, bad("load-balancer", key, "%q is not a CIDR range such as 10.0.0.0/8", s)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// parsePortList reads "22/tcp,2379-2380/tcp,8472/udp,9000": a port or a
// range, then the protocol it is reserved for (none: every protocol).
func parsePortList(s string) ([]PortRange, error) {
	var out []PortRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ports, proto, hasProto := strings.Cut(part, "/")
		r := PortRange{}
		if hasProto {
			switch p := strings.ToUpper(strings.TrimSpace(proto)); p {
			case "TCP", "UDP", "SCTP":
				r.Protocol = p
			default:
				return nil, fmt.Errorf("%q names no protocol a Service has (want tcp, udp or sctp)", part)
			}
		}
		a, b, isRange := strings.Cut(strings.TrimSpace(ports), "-")
		from, err1 := strconv.Atoi(a)
		to := from
		var err2 error
		if isRange {
			to, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || from < 1 || to > 65535 || from > to {
			return nil, fmt.Errorf("%q is not a port or a port range such as 2379-2380/tcp", part)
		}
		r.From, r.To = from, to
		out = append(out, r)
	}
	return out, nil
}

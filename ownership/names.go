package ownership

import "strings"

// The names of the cloud resources this project makes. Existing resources
// are found by these names, so each must stay byte for byte what it was:
// names_test.go holds the exact strings.
//
// A Service's resources share its base name (LoadBalancerBase), the
// cluster's prefix and the Service's UID; each resource adds a suffix to
// it. The longest suffix is 5 characters ("-nip6"), and a base name is at
// most 55 (20 of prefix, "lb-", 32 of UID), so every name stays within the
// API's 63.

// Kind tags: the part of a name after the cluster's prefix.
const (
	kindLoadBalancer  = "lb"
	kindHealthCheck   = "hc"
	kindInstanceGroup = "ig"
	kindRoute         = "r"
)

// sharedHealthCheckID names the one health check that every load balancer
// of the cluster with externalTrafficPolicy Cluster shares: kube-proxy's.
const sharedHealthCheckID = "kube-proxy"

// LoadBalancerBase is the base name of a Service's resources: the
// cluster's prefix and the Service's UID without its dashes.
func (c Cluster) LoadBalancerBase(uid string) string {
	return c.ResourceName(kindLoadBalancer, strings.ReplaceAll(uid, "-", ""))
}

// LoadBalancersFilter is the list filter that matches the resources of every
// Service of the cluster (those named from LoadBalancerBase).
func (c Cluster) LoadBalancersFilter() string {
	return "name eq " + c.ResourceName(kindLoadBalancer, "") + "-.*"
}

// SharedHealthCheckName is the cluster's kube-proxy health check.
func (c Cluster) SharedHealthCheckName() string {
	return c.ResourceName(kindHealthCheck, sharedHealthCheckID)
}

// InstanceGroupName is the cluster's shared instance group in a zone.
func (c Cluster) InstanceGroupName(zone string) string {
	return c.ResourceName(kindInstanceGroup, zone)
}

// RouteName is the route of a node's IPv4 pod CIDR. The route controller
// of k8s.io/cloud-provider (controllers/route/route_controller.go) gives
// the same name hint, the node's UID, to each of a node's pod CIDRs, so the
// family is part of the name: an IPv4 route keeps the name it always had.
func (c Cluster) RouteName(hint string) string { return c.ResourceName(kindRoute, hint) }

// RouteNameIPv6 is the route of a node's IPv6 pod CIDR.
func (c Cluster) RouteNameIPv6(hint string) string { return c.ResourceName(kindRoute, hint+"-v6") }

// ServiceResourcesFilter is the list filter that matches the resources of
// the Service of this base name, the base name itself excepted.
func ServiceResourcesFilter(base string) string { return "name eq " + base + "-.*" }

// IsServiceResource reports whether a resource name is the base name or
// one of the names made from it.
func IsServiceResource(name, base string) bool {
	return name == base || strings.HasPrefix(name, base+"-")
}

// ClientFirewallName is the external mode's IPv4 rule for a Service's
// clients; ClientFirewallNameIPv6 its IPv6 twin (a rule is of one family).
func ClientFirewallName(base string) string     { return base + "-fw" }
func ClientFirewallNameIPv6(base string) string { return base + "-fw6" }

// HealthCheckFirewallName is the external mode's IPv4 rule for the health
// checkers; HealthCheckFirewallNameIPv6 its IPv6 twin.
func HealthCheckFirewallName(base string) string     { return base + "-hc" }
func HealthCheckFirewallNameIPv6(base string) string { return base + "-hc6" }

// NodeIPFirewallName is the nodeip mode's IPv4 rule of a Service;
// NodeIPFirewallNameIPv6 its IPv6 twin. FirewallMode tells a rule made
// before the mode key existed as the nodeip mode's by these suffixes.
func NodeIPFirewallName(base string) string     { return base + "-nip" }
func NodeIPFirewallNameIPv6(base string) string { return base + "-nip6" }

// NodeIPFirewallsFilter is the list filter that matches both nodeip rules
// of the Service of this base name.
func NodeIPFirewallsFilter(base string) string { return "name eq " + NodeIPFirewallName(base) + ".*" }

// isNodeIPFirewallName: the name has a suffix of NodeIPFirewallName or
// NodeIPFirewallNameIPv6, whatever its base.
func isNodeIPFirewallName(name string) bool {
	return strings.HasSuffix(name, NodeIPFirewallName("")) || strings.HasSuffix(name, NodeIPFirewallNameIPv6(""))
}

// IPv6AddressName is a Service's external IPv6 address; its IPv4 address
// has the base name.
func IPv6AddressName(base string) string { return base + "-v6" }

// PoolName is the target pool's name for a session affinity: a change of
// affinity needs a new pool (the API cannot change it in place), and a
// distinct name lets the forwarding rules move to it before the old one goes.
func PoolName(base, affinity string) string {
	if affinity == "CLIENT_IP" {
		return base + "-ca"
	}
	return base
}

// ForwardingRuleName is a Service's IPv4 forwarding rule of one protocol
// (TCP, UDP): "-tcp", "-udp".
func ForwardingRuleName(base, protocol string) string {
	return base + "-" + strings.ToLower(protocol)
}

// L3ForwardingRuleName is the one forwarding rule of a backend-service
// load balancer that serves TCP and UDP together (IPProtocol L3_DEFAULT).
func L3ForwardingRuleName(base string) string { return base + "-l3" }

// IPv6ForwardingRuleName is the IPv6 twin of an IPv4 forwarding rule: a
// forwarding rule is of one IP version.
func IPv6ForwardingRuleName(ipv4Rule string) string { return ipv4Rule + "-v6" }

package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbnode"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// kubeProxyHealthPort is kube-proxy's health server: it answers 200 on
// /healthz while kube-proxy runs, and 503 once its node is being deleted
// or tainted by the autoscaler (KEP-3836). The external load balancer of
// an externalTrafficPolicy Cluster Service checks it.
const kubeProxyHealthPort = 10256

// Where the trace sends health checks from, as the packet lab's data plane
// does (test/lab/dataplane/compile_probes.go): one address of each kind of
// load balancer and IP family, in a range only that kind's checkers use,
// so that a firewall rule opened to the other kind's checkers fails the
// checks as it would in GCE. GCE's probe ranges
// (https://cloud.google.com/load-balancing/docs/health-check-concepts,
// "Probe IP ranges and firewall rules"), which the CCM's -hc and -hc6
// rules open by default (providers/gce/nlb, checkerRanges):
//   - external passthrough Network Load Balancers (legacy checks of target
//     pools and checks of backend services alike): 35.191.0.0/16,
//     209.85.152.0/22, 209.85.204.0/22, and over IPv6 2600:1901:8001::/48;
//   - internal passthrough Network Load Balancers: 35.191.0.0/16,
//     130.211.0.0/22, and over IPv6 2600:2d00:1:b029::/64.
//
// 2600:2d00:1:1::/64 is the global proxy load balancers' range, of neither
// kind. An IPv6 backend is probed over IPv6, at its IPv6 address.
var (
	legacyProbeSource       = netip.MustParseAddr("209.85.152.1")
	externalProbeSource     = netip.MustParseAddr("209.85.204.1")
	internalProbeSource     = netip.MustParseAddr("130.211.0.1")
	externalProbeSourceIPv6 = netip.MustParseAddr("2600:1901:8001::1")
	internalProbeSourceIPv6 = netip.MustParseAddr("2600:2d00:1:b029::1")
)

// probeSourceOf is where GCE probes the backends of a backend service from,
// by the forwarding rule's scheme and the IP family traced.
func probeSourceOf(fr *compute.ForwardingRule, ipv6 bool) netip.Addr {
	internal := strings.EqualFold(fr.LoadBalancingScheme, "INTERNAL")
	switch {
	case internal && ipv6:
		return internalProbeSourceIPv6
	case internal:
		return internalProbeSource
	case ipv6:
		return externalProbeSourceIPv6
	}
	return externalProbeSource
}

// healthCheck is the check of a load balancer's backends.
type healthCheck struct {
	name   string
	port   int64
	source netip.Addr
	// none: a target pool without a check, whose instances GCE counts as
	// healthy.
	none bool
}

// lbTarget is what stands behind a forwarding rule.
type lbTarget struct {
	what     string   // "target pool NAME" or "backend service NAME"
	members  []string // instance links
	check    healthCheck
	affinity string // the sessionAffinity: NONE, CLIENT_IP, ...
}

// backendsOf reads a forwarding rule's backends: a target pool's
// instances, or the members of a backend service's instance groups, their
// health check and session affinity.
func (tr *tracer) backendsOf(fr *compute.ForwardingRule) (lbTarget, error) {
	c := tr.in.Cloud
	switch {
	case fr.Target != "":
		i := slices.IndexFunc(c.TargetPools, func(tp *compute.TargetPool) bool {
			return ownership.SameLink(tp.SelfLink, fr.Target) || tp.Name == ownership.LastSegment(fr.Target)
		})
		if i < 0 {
			return lbTarget{}, fmt.Errorf("forwarding rule %s sends to target pool %s, which does not exist", fr.Name, ownership.LastSegment(fr.Target))
		}
		tp := c.TargetPools[i]
		check := healthCheck{none: true}
		if len(tp.HealthChecks) > 0 {
			name := ownership.LastSegment(tp.HealthChecks[0])
			check = healthCheck{name: name, source: legacyProbeSource}
			for _, hc := range c.HTTPHealthChecks {
				if hc.Name == name {
					check.port = cmp.Or(hc.Port, 80) // the API's default port
				}
			}
		}
		return lbTarget{"target pool " + tp.Name, slices.Clone(tp.Instances), check, tp.SessionAffinity}, nil
	case fr.BackendService != "":
		i := slices.IndexFunc(c.BackendServices, func(bs *compute.BackendService) bool {
			return ownership.SameLink(bs.SelfLink, fr.BackendService) || bs.Name == ownership.LastSegment(fr.BackendService)
		})
		if i < 0 {
			return lbTarget{}, fmt.Errorf("forwarding rule %s sends to backend service %s, which does not exist", fr.Name, ownership.LastSegment(fr.BackendService))
		}
		bs := c.BackendServices[i]
		var members []string
		for _, b := range bs.Backends {
			for link, ms := range c.GroupMembers {
				if b != nil && ownership.SameLink(link, b.Group) {
					members = append(members, ms...)
				}
			}
		}
		slices.Sort(members)
		check := healthCheck{source: probeSourceOf(fr, !tr.t.Client.Addr().Is4())}
		if len(bs.HealthChecks) > 0 {
			check.name = ownership.LastSegment(bs.HealthChecks[0])
			for _, hc := range c.HealthChecks {
				if hc.Name == check.name || ownership.SameLink(hc.SelfLink, bs.HealthChecks[0]) {
					check.port = checkPort(hc)
				}
			}
		}
		return lbTarget{"backend service " + bs.Name, slices.Compact(members), check, bs.SessionAffinity}, nil
	}
	return lbTarget{}, fmt.Errorf("forwarding rule %s has neither a target pool nor a backend service", fr.Name)
}

func checkPort(hc *compute.HealthCheck) int64 {
	switch {
	case hc.HttpHealthCheck != nil:
		return hc.HttpHealthCheck.Port
	case hc.TcpHealthCheck != nil:
		return hc.TcpHealthCheck.Port
	case hc.HttpsHealthCheck != nil:
		return hc.HttpsHealthCheck.Port
	}
	return 0
}

// count is "1 ready endpoint", "2 ready endpoints".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// health predicts each backend's health, sorted by node name.
func (tr *tracer) health(members []string, check healthCheck) []Backend {
	var out []Backend
	for _, link := range members {
		inst := instanceByLink(tr.in.Cloud.Instances, link)
		b := Backend{Instance: link}
		var node string
		if inst != nil {
			if n := tr.nodeOfInstance(inst); n != nil {
				node = n.Name
			}
		}
		b.Node = node
		b.Healthy, b.Reason = tr.backendHealth(inst, node, check)
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Backend) int {
		return strings.Compare(a.Node+"/"+a.Instance, b.Node+"/"+b.Instance)
	})
	return out
}

// backendHealth: the instance runs, the firewall lets the checkers in, and
// what answers on the check's port says 200.
func (tr *tracer) backendHealth(inst *compute.Instance, node string, check healthCheck) (bool, string) {
	switch {
	case inst == nil:
		return false, "the instance does not exist"
	case inst.Status != "" && inst.Status != "RUNNING":
		return false, "the instance is " + inst.Status
	case check.none:
		return true, "the target pool has no health check: GCE counts every instance healthy"
	case check.port == 0:
		return false, fmt.Sprintf("health check %s does not exist", check.name)
	}
	probe := Packet{Protocol: "tcp", Src: check.source, Dst: netip.AddrPortFrom(internalAddress(inst, check.source), uint16(check.port))}
	if v := EvaluateIngress(tr.in.Cloud.Firewalls, probe, inst, nil); !v.Allowed {
		return false, fmt.Sprintf("the firewall blocks health checks from %s on tcp:%d (%s)", check.source, check.port, v)
	}
	if node == "" {
		return false, fmt.Sprintf("no node runs on the instance: nothing answers health check %s on port %d", check.name, check.port)
	}
	n := tr.nodes[node]
	switch {
	case int32(check.port) == tr.svc.Spec.HealthCheckNodePort && check.port != 0:
		if k := len(tr.healthCheckEndpoints(node)); k > 0 {
			return true, fmt.Sprintf("kube-proxy answers 200 on :%d/healthz: %s on %s", check.port, count(k, "ready endpoint"), node)
		}
		if terminating := tr.localEndpoints(node); len(terminating) > 0 {
			return false, fmt.Sprintf("%s has only terminating endpoints (%s): kube-proxy answers 503 on :%d/healthz, which counts ready endpoints only (externalTrafficPolicy Local)",
				node, endpointNames(terminating), check.port)
		}
		return false, fmt.Sprintf("no ready endpoint on %s: kube-proxy answers 503 on :%d/healthz (externalTrafficPolicy Local)", node, check.port)
	case check.port == kubeProxyHealthPort:
		if lbnode.BeingDeleted(n) || lbnode.ToBeDeletedByAutoscaler(n) {
			return false, fmt.Sprintf("%s is being deleted: kube-proxy answers 503 on :%d/healthz", node, kubeProxyHealthPort)
		}
		return true, fmt.Sprintf("kube-proxy answers 200 on :%d/healthz", kubeProxyHealthPort)
	}
	return true, fmt.Sprintf("port %d is neither kube-proxy's nor the Service's health check node port: assumed healthy", check.port)
}

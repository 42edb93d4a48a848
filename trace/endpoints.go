package trace

import (
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// endpoint is a Service endpoint with the conditions kube-proxy reads.
type endpoint struct {
	Endpoint
	ready, serving, terminating bool
}

// name is the endpoint's pod, or its address when it has none.
func (e *endpoint) name() string {
	if e.Pod != "" {
		return e.Pod
	}
	return e.Address.Addr().String()
}

// serviceEndpoints are the Service's endpoints for the traced port and the
// client's IP family, as kube-proxy reads the EndpointSlices: the slices
// labelled with the Service's name, their first address, the port of the
// Service port's name; a missing ready or serving condition is true, a
// missing terminating one false (k8s.io/kubernetes v1.37
// pkg/proxy/endpointslicecache.go, addEndpoints: "serving :=
// endpoint.Conditions.Serving == nil || *endpoint.Conditions.Serving").
// Sorted by pod name, then address.
func (tr *tracer) serviceEndpoints() []endpoint {
	family := discoveryv1.AddressTypeIPv4
	if !tr.t.Client.Addr().Is4() {
		family = discoveryv1.AddressTypeIPv6
	}
	seen := map[netip.Addr]bool{}
	var out []endpoint
	for _, s := range tr.in.EndpointSlices {
		if s.Namespace != tr.svc.Namespace || s.Labels[discoveryv1.LabelServiceName] != tr.svc.Name || s.AddressType != family {
			continue
		}
		port, ok := slicePort(s, tr.port)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 {
				continue
			}
			a, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil || seen[a.Unmap()] {
				continue
			}
			seen[a.Unmap()] = true
			e := endpoint{Endpoint: Endpoint{Address: netip.AddrPortFrom(a.Unmap(), uint16(port))}}
			if ep.NodeName != nil {
				e.Node = *ep.NodeName
			}
			if ep.TargetRef != nil {
				e.Pod = ep.TargetRef.Name
			}
			e.ready = ep.Conditions.Ready == nil || *ep.Conditions.Ready
			e.serving = ep.Conditions.Serving == nil || *ep.Conditions.Serving
			e.terminating = ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		if c := strings.Compare(a.Pod, b.Pod); c != 0 {
			return c
		}
		return a.Address.Compare(b.Address)
	})
	return out
}

// slicePort is the slice's port of the Service port's name and protocol.
func slicePort(s *discoveryv1.EndpointSlice, sp v1.ServicePort) (int32, bool) {
	proto := sp.Protocol
	if proto == "" {
		proto = v1.ProtocolTCP
	}
	for _, p := range s.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		pp := v1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if name == sp.Name && pp == proto && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}

// usable are the endpoints kube-proxy sends to: the ready ones, or, when
// none is ready, the serving ones that are terminating (KEP-1669).
func usable(eps []endpoint) []endpoint {
	var ready, terminating []endpoint
	for _, e := range eps {
		switch {
		case e.ready:
			ready = append(ready, e)
		case e.serving && e.terminating:
			terminating = append(terminating, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}

// clusterEndpoints are what kube-proxy uses for externalTrafficPolicy Cluster.
func (tr *tracer) clusterEndpoints() []endpoint { return usable(tr.serviceEndpoints()) }

// localEndpoints are what kube-proxy on node uses for externalTrafficPolicy
// Local: its ready endpoints, or its serving terminating ones when none is
// ready (pkg/proxy/topology.go, CategorizeEndpoints).
func (tr *tracer) localEndpoints(node string) []endpoint { return usable(tr.endpointsOn(node)) }

// endpointsOn are the Service's endpoints on node, whatever their state.
func (tr *tracer) endpointsOn(node string) []endpoint {
	var local []endpoint
	for _, e := range tr.serviceEndpoints() {
		if e.Node == node {
			local = append(local, e)
		}
	}
	return local
}

// healthCheckEndpoints are what kube-proxy's health check node port counts
// on node: its ready endpoints only, so that a node whose endpoints all
// terminate answers 503 and the load balancer stops sending it new flows,
// although kube-proxy still sends the flows that come to the terminating
// ones (pkg/proxy/endpointschangetracker.go, getLocalReadyEndpointIPs:
// "Only add ready endpoints for health checking").
func (tr *tracer) healthCheckEndpoints(node string) []endpoint {
	var ready []endpoint
	for _, e := range tr.endpointsOn(node) {
		if e.ready {
			ready = append(ready, e)
		}
	}
	return ready
}

func endpointNames(eps []endpoint) string {
	names := make([]string, len(eps))
	for i, e := range eps {
		names[i] = e.name()
	}
	return strings.Join(names, ", ")
}

func publicEndpoints(eps []endpoint) []Endpoint {
	out := make([]Endpoint, len(eps))
	for i, e := range eps {
		out[i] = e.Endpoint
	}
	return out
}

// Package observe reads what a trace (package trace) looks at: the Service,
// its EndpointSlices, the nodes and kube-proxy's ConfigMap
// (kube-system/kube-proxy, for its mode) from the Kubernetes API; from the
// compute API the nodes' instances, the project's firewall rules and
// routes, the region's forwarding rules, the target pools, backend
// services, instance groups and health checks behind the forwarding rules
// of the Service, the ranges of the nodes' network, and the instance of
// the traced client when it is a VM of that network.
//
// It only reads: it never writes to either API. Every compute call goes
// through computeclient.
package observe

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

// parallelism bounds the compute reads in flight.
const parallelism = 8

// Reader reads from one cluster and one project's region.
type Reader struct {
	Kube    kubernetes.Interface
	Compute *computeclient.Client
	// Region holds the Service's forwarding rules.
	Region string
	// Owner names the cluster's resources (the CCM's --cluster-name).
	Owner ownership.Cluster
	// Client is the traced client's address: when it is a VM of the VPC,
	// its instance is read too. Zero: no client instance is read.
	Client netip.Addr
}

// Read reads the Service namespace/name, what its packets meet, and
// kube-proxy's mode from its ConfigMap when there is one. The
// load balancers behind the Service's forwarding rules (named after it, or
// on one of its published addresses or on an address of also) are read
// with their backends; other forwarding rules only as they are. Settings,
// the client and the choices of a trace are left to the caller.
func (r Reader) Read(ctx context.Context, namespace, name string, also ...netip.Addr) (trace.Input, error) {
	in := trace.Input{Settings: trace.Settings{Owner: r.Owner}}
	svc, err := r.Kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return in, fmt.Errorf("read Service %s/%s: %w", namespace, name, err)
	}
	in.Service = svc
	eps, err := r.Kube.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	if err != nil {
		return in, fmt.Errorf("list EndpointSlices of Service %s/%s: %w", namespace, name, err)
	}
	for i := range eps.Items {
		in.EndpointSlices = append(in.EndpointSlices, &eps.Items[i])
	}
	nodes, err := r.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return in, fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		in.Nodes = append(in.Nodes, &nodes.Items[i])
	}
	if err := r.readKubeProxyMode(ctx, &in.Settings); err != nil {
		return in, err
	}
	if err := r.readCloud(ctx, &in, also); err != nil {
		return in, err
	}
	return in, nil
}

// readCloud reads the project-wide lists and the region's forwarding rules
// in parallel, then what the Service's rules send to, then the instances.
func (r Reader) readCloud(ctx context.Context, in *trace.Input, also []netip.Addr) error {
	c := &in.Cloud
	err := parallel(
		func() (err error) {
			if c.Firewalls, err = r.Compute.ListFirewalls(ctx, ""); err != nil {
				return fmt.Errorf("list firewall rules: %w", err)
			}
			return nil
		},
		func() (err error) {
			if c.Routes, err = r.Compute.ListRoutes(ctx, ""); err != nil {
				return fmt.Errorf("list routes: %w", err)
			}
			return nil
		},
		func() (err error) {
			if c.ForwardingRules, err = r.Compute.ListForwardingRules(ctx, r.Region, ""); err != nil {
				return fmt.Errorf("list forwarding rules of region %s: %w", r.Region, err)
			}
			return nil
		})
	if err != nil {
		return err
	}
	lb := &loadBalancers{r: r, cloud: c, groups: map[string][]string{}}
	var reads []func() error
	for _, fr := range r.servicesRules(in.Service, c.ForwardingRules, also) {
		reads = append(reads, func() error { return lb.readTarget(ctx, fr) })
	}
	if err := parallel(reads...); err != nil {
		return err
	}
	c.GroupMembers = lb.groups
	if err := r.readInstances(ctx, in, lb.members); err != nil {
		return err
	}
	if err := r.readNetworkRanges(ctx, in); err != nil {
		return err
	}
	return r.readClientInstance(ctx, in)
}

// readNetworkRanges reads the ranges of the nodes' network (that of the
// first instance's first interface), which tell clients inside the VPC
// from clients outside.
func (r Reader) readNetworkRanges(ctx context.Context, in *trace.Input) error {
	for _, inst := range in.Cloud.Instances {
		if len(inst.NetworkInterfaces) == 0 || inst.NetworkInterfaces[0].Network == "" {
			continue
		}
		network := inst.NetworkInterfaces[0].Network
		ranges, err := r.Compute.NetworkRanges(ctx, network)
		if err != nil {
			return fmt.Errorf("read the ranges of network %s: %w", ownership.LastSegment(network), err)
		}
		in.Cloud.NetworkRanges = ranges
		return nil
	}
	return nil
}

// servicesRules are the forwarding rules a trace of the Service may go
// through: named after it, or on one of its addresses.
func (r Reader) servicesRules(svc *v1.Service, rules []*compute.ForwardingRule, also []netip.Addr) []*compute.ForwardingRule {
	base := r.Owner.LoadBalancerBase(string(svc.UID))
	addrs := map[string]bool{}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		addrs[in.IP] = true
	}
	for _, a := range also {
		addrs[a.String()] = true
	}
	var out []*compute.ForwardingRule
	for _, fr := range rules {
		ip, _, _ := strings.Cut(fr.IPAddress, "/")
		if ownership.IsServiceResource(fr.Name, base) || addrs[ip] {
			out = append(out, fr)
		}
	}
	return out
}

// loadBalancers collects the targets of forwarding rules, from parallel reads.
type loadBalancers struct {
	r       Reader
	cloud   *trace.Cloud
	mu      sync.Mutex
	groups  map[string][]string
	members []string
}

// readTarget reads a forwarding rule's target pool or backend service,
// and their health checks and members. A target that is gone is left out:
// the trace says so.
func (lb *loadBalancers) readTarget(ctx context.Context, fr *compute.ForwardingRule) error {
	api := lb.r.Compute
	switch {
	case fr.Target != "" && strings.Contains(fr.Target, "/targetPools/"):
		tp, err := api.GetTargetPool(ctx, regionOf(fr.Target, lb.r.Region), ownership.LastSegment(fr.Target))
		if computeclient.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read target pool %s: %w", ownership.LastSegment(fr.Target), err)
		}
		var hcs []*compute.HttpHealthCheck
		for _, link := range tp.HealthChecks {
			hc, err := api.GetHTTPHealthCheck(ctx, ownership.LastSegment(link))
			if err != nil && !computeclient.IsNotFound(err) {
				return fmt.Errorf("read HTTP health check %s: %w", ownership.LastSegment(link), err)
			}
			if hc != nil {
				hcs = append(hcs, hc)
			}
		}
		lb.add(func(c *trace.Cloud) {
			c.TargetPools = append(c.TargetPools, tp)
			c.HTTPHealthChecks = append(c.HTTPHealthChecks, hcs...)
			lb.members = append(lb.members, tp.Instances...)
		})
	case fr.BackendService != "":
		return lb.readBackendService(ctx, fr.BackendService)
	}
	return nil
}

func (lb *loadBalancers) readBackendService(ctx context.Context, link string) error {
	api := lb.r.Compute
	bs, err := api.GetRegionBackendService(ctx, regionOf(link, lb.r.Region), ownership.LastSegment(link))
	if computeclient.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read backend service %s: %w", ownership.LastSegment(link), err)
	}
	var hcs []*compute.HealthCheck
	for _, hcLink := range bs.HealthChecks {
		hc, err := lb.readHealthCheck(ctx, hcLink)
		if err != nil {
			return err
		}
		if hc != nil {
			hcs = append(hcs, hc)
		}
	}
	groups := map[string][]string{}
	for _, b := range bs.Backends {
		if b == nil || !strings.Contains(b.Group, "/instanceGroups/") {
			continue
		}
		zone := ownership.ZoneOf(b.Group)
		members, err := api.ListInstanceGroupInstances(ctx, zone, ownership.LastSegment(b.Group))
		if err != nil && !computeclient.IsNotFound(err) {
			return fmt.Errorf("list the instances of instance group %s: %w", ownership.LastSegment(b.Group), err)
		}
		groups[b.Group] = members
	}
	lb.add(func(c *trace.Cloud) {
		c.BackendServices = append(c.BackendServices, bs)
		c.HealthChecks = append(c.HealthChecks, hcs...)
		for g, ms := range groups {
			lb.groups[g] = ms
			lb.members = append(lb.members, ms...)
		}
	})
	return nil
}

// readHealthCheck reads a regional or global health check; nil when it is gone.
func (lb *loadBalancers) readHealthCheck(ctx context.Context, link string) (*compute.HealthCheck, error) {
	api := lb.r.Compute
	var hc *compute.HealthCheck
	var err error
	if strings.Contains(link, "/regions/") {
		hc, err = api.GetRegionHealthCheck(ctx, regionOf(link, lb.r.Region), ownership.LastSegment(link))
	} else {
		hc, err = computeclient.Do(ctx, api, "healthChecks.get", func(ctx context.Context) (*compute.HealthCheck, error) {
			return api.Service().HealthChecks.Get(api.Project(), ownership.LastSegment(link)).Context(ctx).Do()
		})
	}
	if computeclient.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read health check %s: %w", ownership.LastSegment(link), err)
	}
	return hc, nil
}

func (lb *loadBalancers) add(f func(*trace.Cloud)) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	f(lb.cloud)
}

// readInstances reads the nodes' instances (by providerID, else by name)
// and the load balancers' members that are no node.
func (r Reader) readInstances(ctx context.Context, in *trace.Input, members []string) error {
	type ref struct{ zone, name string }
	var refs []ref
	seen := map[ref]bool{}
	want := func(zone, name string) {
		if k := (ref{zone, name}); !seen[k] {
			seen[k] = true
			refs = append(refs, k)
		}
	}
	for _, n := range in.Nodes {
		if zone, name, ok := providerInstance(n); ok {
			want(zone, name)
		} else {
			want("", n.Name)
		}
	}
	for _, link := range members {
		want(ownership.ZoneOf(link), ownership.LastSegment(link))
	}
	var mu sync.Mutex
	var reads []func() error
	for _, k := range refs {
		reads = append(reads, func() error {
			var found []*compute.Instance
			if k.zone == "" {
				insts, err := r.Compute.FindInstances(ctx, k.name)
				if err != nil {
					return fmt.Errorf("find instance %s: %w", k.name, err)
				}
				found = insts
			} else {
				inst, err := r.Compute.GetInstance(ctx, k.zone, k.name)
				if computeclient.IsNotFound(err) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("read instance %s/%s: %w", k.zone, k.name, err)
				}
				found = []*compute.Instance{inst}
			}
			mu.Lock()
			in.Cloud.Instances = append(in.Cloud.Instances, found...)
			mu.Unlock()
			return nil
		})
	}
	if err := parallel(reads...); err != nil {
		return err
	}
	slices.SortFunc(in.Cloud.Instances, func(a, b *compute.Instance) int { return strings.Compare(a.SelfLink, b.SelfLink) })
	in.Cloud.Instances = slices.CompactFunc(in.Cloud.Instances, func(a, b *compute.Instance) bool { return a.SelfLink == b.SelfLink })
	return nil
}

// providerInstance reads gce://project/zone/name.
func providerInstance(n *v1.Node) (zone, name string, ok bool) {
	rest, ok := strings.CutPrefix(n.Spec.ProviderID, "gce://")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// parallel runs fns, at most parallelism at a time, and returns the first
// error.
func parallel(fns ...func() error) error {
	var g errgroup.Group
	g.SetLimit(parallelism)
	for _, f := range fns {
		g.Go(f)
	}
	return g.Wait()
}

// regionOf is the region in a regional link, else def.
func regionOf(link, def string) string { return cmp.Or(ownership.RegionOf(link), def) }

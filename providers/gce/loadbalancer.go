package gce

import (
	"context"
	"errors"
	"fmt"
	"sync"

	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
)

// The LoadBalancer interface: a table of contents. A Service is served in
// one of two modes (annotations.ModeOf): external, by package nlb, or
// nodeip, by the nodeip controller (ImplementedElsewhere here). Each mode
// changes and removes only the resources it made (ownership.ModeKey,
// firewall.Scope). What the external mode leaves when a Service switches
// to nodeip is released by EnsureLoadBalancer alone, so that the service
// controller's serialised syncs of the Service order it after any ensure
// still in flight. Deletion cleans up both modes, so that a Service
// deleted in either leaves nothing.

var _ cloudprovider.LoadBalancer = (*Cloud)(nil)

func (c *Cloud) nlbParams(clusterName string) nlb.Params {
	return nlb.Params{
		Owner: c.cfg.Owner(clusterName), Project: c.project, NetworkProject: c.cfg.NetworkProject(), Region: c.region, NetworkURL: c.networkURL,
		NodeTags: c.cfg.NodeTags, HealthCheckRanges: c.cfg.LoadBalancer.HealthCheckSourceRanges,
		DefaultBackend: c.cfg.LoadBalancer.Backend, SubnetworkURL: c.subnetworkURL(),
		UserAddresses: c.cfg.LoadBalancer.UserAddresses,
	}
}

// balancers are the provider's nlb.Balancers, one per cluster name (the
// cloud-provider interface passes it with every call), made on first use:
// each remembers what its cluster's load balancers share.
type balancers struct {
	mu   sync.Mutex
	byID map[string]*nlb.Balancer
}

// balancer is the Balancer of a cluster, with the subnetwork found so far
// when the config names none.
func (c *Cloud) balancer(clusterName string) *nlb.Balancer {
	c.lbs.mu.Lock()
	defer c.lbs.mu.Unlock()
	b := c.lbs.byID[clusterName]
	if b == nil {
		if c.lbs.byID == nil {
			c.lbs.byID = map[string]*nlb.Balancer{}
		}
		b = nlb.New(c.api, c.nlbParams(clusterName))
		c.lbs.byID[clusterName] = b
	}
	if url := c.subnetworkURL(); url != b.Params().SubnetworkURL {
		return b.WithSubnetwork(url)
	}
	return b
}

func (c *Cloud) modeOf(svc *v1.Service) (string, error) {
	return annotations.ModeOf(svc, c.cfg.LoadBalancer.Mode)
}

// GetLoadBalancer reports the external load balancer of a Service (one list
// call). A nodeip Service reports what its status says.
func (c *Cloud) GetLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service) (*v1.LoadBalancerStatus, bool, error) {
	if mode, err := c.modeOf(svc); err == nil && mode == annotations.ModeNodeIP {
		return &svc.Status.LoadBalancer, true, nil
	}
	return c.balancer(clusterName).Status(ctx, svc)
}

// GetLoadBalancerName is the base name of the Service's cloud resources.
func (c *Cloud) GetLoadBalancerName(ctx context.Context, clusterName string, svc *v1.Service) string {
	return c.cfg.Owner(clusterName).LoadBalancerBase(string(svc.UID))
}

// EnsureLoadBalancer creates or updates the Service's external load
// balancer; for a nodeip Service it releases what the external mode left.
func (c *Cloud) EnsureLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	mode, err := c.modeOf(svc)
	if err != nil {
		return nil, err
	}
	if mode == annotations.ModeNodeIP {
		return nil, c.releaseExternal(ctx, clusterName, svc)
	}
	b := c.balancer(clusterName)
	if needsSubnetwork(svc, nodes, b.Params()) {
		url, err := c.discoverSubnetwork(ctx)
		if err != nil {
			return nil, withQuotaProblem(err)
		}
		b = b.WithSubnetwork(url)
	}
	status, err := b.Ensure(ctx, svc, nodes)
	return status, withQuotaProblem(err)
}

// UpdateLoadBalancer follows node changes (the pool's members).
// On a backend-service load balancer this process built, only the shared
// instance groups change (the Balancer's UpdateNodes); otherwise the whole load
// balancer is ensured. A nodeip Service makes no call: the service
// controller calls this only after an EnsureLoadBalancer of the same spec
// succeeded, which released the external mode's resources.
func (c *Cloud) UpdateLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) error {
	switch mode, err := c.modeOf(svc); {
	case err == nil && mode == annotations.ModeNodeIP:
		return cloudprovider.ImplementedElsewhere
	case err == nil && mode == annotations.ModeExternal:
		if done, err := c.balancer(clusterName).UpdateNodes(ctx, svc, nodes); done {
			return err
		}
	}
	_, err := c.EnsureLoadBalancer(ctx, clusterName, svc, nodes)
	return err
}

// EnsureLoadBalancerDeleted removes what either mode created for the
// Service: the external load balancer and the nodeip mode's rules.
func (c *Cloud) EnsureLoadBalancerDeleted(ctx context.Context, clusterName string, svc *v1.Service) error {
	var external, nodeIP error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		external = c.balancer(clusterName).Delete(ctx, svc)
	}()
	nodeIP = c.deleteNodeIPRules(ctx, clusterName, svc)
	wg.Wait()
	return errors.Join(external, nodeIP)
}

// releaseExternal answers for a nodeip Service: whatever the external mode
// made for it (a load balancer from before a switch to nodeip, or part of
// one an ensure left) is deleted, and the nodeip controller does the rest.
// It goes by what the cloud holds, not by the Service's status: the status
// is the nodeip controller's now and may already show node addresses, and
// an ensure that failed half-way left resources but no address.
// The Balancer's Delete reads first: a Service with nothing to release
// costs nine reads and no write (the cluster's shared health check goes only
// when no load balancer uses it, as those reads show). This runs on an
// ensure only (a new Service, a changed spec, a new leader), never on a
// resync of an unchanged Service, and UpdateLoadBalancer makes no call. Its
// firewall diff is the external mode's (firewall.ForService), so the nodeip
// rules stay.
func (c *Cloud) releaseExternal(ctx context.Context, clusterName string, svc *v1.Service) error {
	if err := c.balancer(clusterName).Delete(ctx, svc); err != nil {
		return fmt.Errorf("release the external load balancer of nodeip service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return cloudprovider.ImplementedElsewhere
}

// deleteNodeIPRules deletes the nodeip mode's firewall rules of a Service
// (one list call finds both families' rules).
func (c *Cloud) deleteNodeIPRules(ctx context.Context, clusterName string, svc *v1.Service) error {
	owner := c.cfg.Owner(clusterName)
	uid := string(svc.UID)
	// The IPv6 rule's name is the IPv4 one's with a suffix: one pattern.
	observed, err := c.api.ListFirewalls(ctx, ownership.NodeIPFirewallsFilter(owner.LoadBalancerBase(uid)))
	if err != nil {
		return fmt.Errorf("list the nodeip firewall rules of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return firewall.Apply(ctx, c.api, firewall.Diff(nil, observed, owner, firewall.ForNodeIP(uid)))
}

// subnetworkURL is the link of the cluster's subnetwork: the config's, or
// the one discoverSubnetwork found ("" before that).
func (c *Cloud) subnetworkURL() string {
	if c.cfg.SubnetworkName == "" {
		return c.subnetwork.get()
	}
	return c.cfg.SubnetworkLink(c.region)
}

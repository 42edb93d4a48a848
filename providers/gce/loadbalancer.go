package gce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
)

// The LoadBalancer interface: a table of contents. A Service is served in
// one of two modes (annotations.ModeOf): external, by package nlb, or
// nodeip, by the nodeip controller (ImplementedElsewhere here). Deletion
// cleans up both, so that a Service that switched modes leaves nothing.

var _ cloudprovider.LoadBalancer = (*Cloud)(nil)

func (c *Cloud) nlbParams(clusterName string) nlb.Params {
	return nlb.Params{
		Owner: c.cfg.Owner(clusterName), Project: c.project, NetworkProject: c.cfg.NetworkProject(), Region: c.region, NetworkURL: c.networkURL,
		NodeTags: c.cfg.NodeTags, HealthCheckRanges: c.cfg.LoadBalancer.HealthCheckSourceRanges,
		DefaultBackend: c.cfg.LoadBalancer.Backend, SubnetworkURL: c.subnetworkURL(),
		UserAddresses: c.cfg.LoadBalancer.UserAddresses,
	}
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
	return nlb.Status(ctx, c.api, c.nlbParams(clusterName), svc)
}

// GetLoadBalancerName is the base name of the Service's cloud resources.
func (c *Cloud) GetLoadBalancerName(ctx context.Context, clusterName string, svc *v1.Service) string {
	return nlb.BaseName(c.cfg.Owner(clusterName), string(svc.UID))
}

// EnsureLoadBalancer creates or updates the Service's external load balancer.
func (c *Cloud) EnsureLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	mode, err := c.modeOf(svc)
	if err != nil {
		c.report(ctx, svc, err)
		return nil, err
	}
	if mode == annotations.ModeNodeIP {
		return nil, c.leaveExternal(ctx, clusterName, svc, nodes)
	}
	params := c.nlbParams(clusterName)
	if needsSubnetwork(svc, nodes, params) {
		if params.SubnetworkURL, err = c.discoverSubnetwork(ctx); err != nil {
			c.report(ctx, svc, err)
			return nil, err
		}
	}
	status, err := nlb.Ensure(ctx, c.api, params, svc, nodes)
	c.report(ctx, svc, err)
	return status, err
}

// UpdateLoadBalancer follows node changes (the pool's members).
// On a backend-service load balancer this process built, only the shared
// instance groups change (nlb.UpdateNodes); otherwise the whole load
// balancer is ensured.
func (c *Cloud) UpdateLoadBalancer(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) error {
	if mode, err := c.modeOf(svc); err == nil && mode == annotations.ModeExternal {
		if done, err := nlb.UpdateNodes(ctx, c.api, c.nlbParams(clusterName), svc, nodes); done {
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
		external = nlb.Delete(ctx, c.api, c.nlbParams(clusterName), svc)
	}()
	nodeIP = c.deleteNodeIPRules(ctx, clusterName, svc)
	wg.Wait()
	return errors.Join(external, nodeIP)
}

// leaveExternal answers for a nodeip Service: its external load balancer,
// if it had one before switching modes, is removed, and the nodeip
// controller does the rest.
func (c *Cloud) leaveExternal(ctx context.Context, clusterName string, svc *v1.Service, nodes []*v1.Node) error {
	if hadExternal(svc, nodes) {
		err := nlb.Delete(ctx, c.api, c.nlbParams(clusterName), svc)
		c.nodeIPRuleRemoved(svc) // harmless now: nlb.Delete leaves the nodeip rules
		if err != nil {
			return err
		}
	}
	return cloudprovider.ImplementedElsewhere
}

// hadExternal: the Service's status shows an address that is no node's,
// so it comes from an external load balancer (the nodeip mode publishes
// node addresses only). A status the nodeip controller wrote has none: an
// address of a node just deleted or excluded (which nodes no longer lists)
// is still nodeip's until the controller takes it back.
func hadExternal(svc *v1.Service, nodes []*v1.Node) bool {
	if nodeip.PublishedStatus(svc) {
		return false
	}
	nodeIPs := map[string]bool{}
	for _, n := range nodes {
		for _, a := range n.Status.Addresses {
			nodeIPs[a.Address] = true
		}
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" && !nodeIPs[in.IP] {
			return true
		}
	}
	return false
}

// deleteNodeIPRules deletes the nodeip mode's firewall rules of a Service
// (one list call finds both families' rules).
func (c *Cloud) deleteNodeIPRules(ctx context.Context, clusterName string, svc *v1.Service) error {
	owner := c.cfg.Owner(clusterName)
	uid := string(svc.UID)
	// The IPv6 rule's name is the IPv4 one's with a suffix: one pattern.
	observed, err := c.api.ListFirewalls(ctx, "name eq "+NodeIPFirewallName(owner, uid)+".*")
	if err != nil {
		return fmt.Errorf("list the nodeip firewall rules of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return firewall.Apply(ctx, c.api, firewall.Diff(nil, observed, owner, firewall.ForNodeIP(uid)))
}

// NodeIPFirewallName is the IPv4 firewall rule of a nodeip Service. It
// shares the Service's base name, so that either mode's cleanup finds it.
func NodeIPFirewallName(owner ownership.Cluster, uid string) string {
	return nlb.BaseName(owner, uid) + "-nip"
}

// NodeIPFirewallNameIPv6 is the IPv6 firewall rule of a nodeip Service (a
// rule is of one IP family). At most 60 characters, as the base name is at
// most 55.
func NodeIPFirewallNameIPv6(owner ownership.Cluster, uid string) string {
	return nlb.BaseName(owner, uid) + "-nip6"
}

// subnetworkURL is the link of the cluster's subnetwork: the config's, or
// the one discoverSubnetwork found ("" before that).
func (c *Cloud) subnetworkURL() string {
	name := c.cfg.SubnetworkName
	switch {
	case name == "":
		return c.subnetwork.get()
	case strings.Contains(name, "/"):
		if r, ok := parseLink(name); ok {
			return linkBase + r
		}
	}
	project := c.project
	if c.cfg.NetworkProjectID != "" {
		project = c.cfg.NetworkProjectID
	}
	return linkBase + "projects/" + project + "/regions/" + c.region + "/subnetworks/" + name
}

package gce

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
)

// foundSubnetwork is the subnetwork found for a config that names none.
type foundSubnetwork struct {
	mu  sync.Mutex
	url string
}

func (f *foundSubnetwork) get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.url
}

// needsSubnetwork: the Service's load balancer takes an address from a
// subnetwork and neither the config nor the Service names it, as nlb's own
// (pure) decision says.
func needsSubnetwork(svc *v1.Service, nodes []*v1.Node, params nlb.Params) bool {
	if params.SubnetworkURL != "" {
		return false
	}
	_, err := nlb.Desire(svc, nodes, params)
	var se *nlb.ServiceError
	return errors.As(err, &se) && se.Reason == nlb.ReasonNoSubnetwork
}

// discoverSubnetwork is the subnetwork of a cluster whose config names
// none: the network's only subnetwork in the region, as an auto-mode
// network or a one-subnetwork VPC has. It is looked up once and kept; a
// network with none or several is a problem the Service reports, naming
// them, until the config says which.
func (c *Cloud) discoverSubnetwork(ctx context.Context) (string, error) {
	c.subnetwork.mu.Lock()
	defer c.subnetwork.mu.Unlock()
	if c.subnetwork.url != "" {
		return c.subnetwork.url, nil
	}
	subnets, err := c.api.ListSubnetworks(ctx, c.region, c.networkURL)
	if err != nil {
		return "", fmt.Errorf("find the subnetwork of network %s in %s: %w", ownership.LastSegment(c.networkURL), c.region, err)
	}
	var names []string
	for _, s := range subnets {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	switch len(subnets) {
	case 1:
		c.subnetwork.url = subnets[0].SelfLink
		klog.FromContext(ctx).Info("The config names no subnetwork: using the network's only one in the region",
			"network", ownership.LastSegment(c.networkURL), "region", c.region, "subnetwork", subnets[0].Name)
		return c.subnetwork.url, nil
	case 0:
		return "", &nlb.ServiceError{Reason: nlb.ReasonNoSubnetwork, Message: fmt.Sprintf(
			"this load balancer takes its address from a subnetwork, and network %s has none in %s: create one there",
			ownership.LastSegment(c.networkURL), c.region)}
	}
	return "", &nlb.ServiceError{Reason: nlb.ReasonNoSubnetwork, Message: fmt.Sprintf(
		"this load balancer takes its address from a subnetwork, and network %s has %d in %s (%s): set [global] subnetwork-name in the cloud config (an internal load balancer may name its own with the annotation %s)",
		ownership.LastSegment(c.networkURL), len(subnets), c.region, strings.Join(names, ", "), annotations.InternalSubnet)}
}

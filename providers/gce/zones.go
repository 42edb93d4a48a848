package gce

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// GetZone is the zone this process runs in (the config's local-zone).
func (c *Cloud) GetZone(ctx context.Context) (cloudprovider.Zone, error) {
	return cloudprovider.Zone{FailureDomain: c.localZone, Region: c.region}, nil
}

// GetZoneByProviderID reads the zone from the providerID, without a call.
func (c *Cloud) GetZoneByProviderID(ctx context.Context, id string) (cloudprovider.Zone, error) {
	p, err := parseProviderID(id)
	if err != nil {
		return cloudprovider.Zone{}, err
	}
	return cloudprovider.Zone{FailureDomain: p.Zone, Region: regionOf(p.Zone)}, nil
}

// GetZoneByNodeName finds the node's instance by name.
func (c *Cloud) GetZoneByNodeName(ctx context.Context, nodeName types.NodeName) (cloudprovider.Zone, error) {
	inst, err := c.findInstanceByName(ctx, string(nodeName))
	if err != nil {
		return cloudprovider.Zone{}, err
	}
	zone := ownership.LastSegment(inst.Zone)
	return cloudprovider.Zone{FailureDomain: zone, Region: regionOf(zone)}, nil
}

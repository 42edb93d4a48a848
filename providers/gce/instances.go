package gce

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// providerID is what a node's spec.providerID says: gce://<project>/<zone>/<instance>.
type providerID struct {
	Project, Zone, Name string
}

func (p providerID) String() string { return "gce://" + p.Project + "/" + p.Zone + "/" + p.Name }

func parseProviderID(s string) (providerID, error) {
	rest, ok := strings.CutPrefix(s, "gce://")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return providerID{}, fmt.Errorf("providerID %q is not gce://<project>/<zone>/<instance>", s)
	}
	return providerID{Project: parts[0], Zone: parts[1], Name: parts[2]}, nil
}

// instanceNameOf maps a node name to its instance name: a kubelet may
// register with the FQDN (name.zone.c.project.internal).
func instanceNameOf(nodeName string) string {
	name, _, _ := strings.Cut(nodeName, ".")
	return name
}

// isShutDown reports whether an instance status is one in which the node
// is shut down, not gone: the lifecycle controller taints it rather than
// deleting it.
func isShutDown(status string) bool {
	switch status {
	case "TERMINATED", "STOPPING", "SUSPENDED", "SUSPENDING":
		return true
	}
	return false
}

// findInstance returns the node's instance: by providerID when the node has
// one, else by name across the managed zones in one aggregated list.
func (c *Cloud) findInstance(ctx context.Context, node *v1.Node) (*compute.Instance, error) {
	if node.Spec.ProviderID != "" {
		id, err := parseProviderID(node.Spec.ProviderID)
		if err != nil {
			return nil, err
		}
		if id.Project != c.project {
			return nil, fmt.Errorf("node %s: providerID %s is in project %s, this provider serves %s", node.Name, node.Spec.ProviderID, id.Project, c.project)
		}
		return c.api.GetInstance(ctx, id.Zone, id.Name)
	}
	return c.findInstanceByName(ctx, node.Name)
}

func (c *Cloud) findInstanceByName(ctx context.Context, nodeName string) (*compute.Instance, error) {
	name := instanceNameOf(nodeName)
	found, err := c.api.FindInstances(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("find instance %s: %w", name, err)
	}
	var inZones []*compute.Instance
	var elsewhere []string
	for _, inst := range found {
		switch {
		case inst.Name != name:
		case contains(c.managedZones, ownership.LastSegment(inst.Zone)):
			inZones = append(inZones, inst)
		default:
			elsewhere = append(elsewhere, ownership.LastSegment(inst.Zone))
		}
	}
	switch {
	case len(inZones) == 0 && len(elsewhere) > 0:
		// Alive, but not where the cluster looks: not InstanceNotFound,
		// which the node lifecycle controller answers by deleting the node
		// (k8s.io/cloud-provider controllers/nodelifecycle); an error keeps it.
		return nil, fmt.Errorf("instance %s is in zone %s, which this cluster does not manage (zones %s; [global] regional = true manages every zone of the region)",
			name, strings.Join(elsewhere, ","), strings.Join(c.managedZones, ","))
	case len(inZones) == 0:
		return nil, fmt.Errorf("instance %s in zones %s: %w", name, strings.Join(c.managedZones, ","), cloudprovider.InstanceNotFound)
	case len(inZones) == 1:
		return inZones[0], nil
	}
	return nil, fmt.Errorf("instance %s exists in several zones (%s, %s): set the node's providerID", name, ownership.LastSegment(inZones[0].Zone), ownership.LastSegment(inZones[1].Zone))
}

// InstanceExists reports whether the node's instance exists.
func (c *Cloud) InstanceExists(ctx context.Context, node *v1.Node) (bool, error) {
	_, err := c.findInstance(ctx, node)
	switch {
	case err == nil:
		return true, nil
	case computeclient.IsNotFound(err) || isInstanceNotFound(err):
		return false, nil
	}
	return false, err
}

// InstanceShutdown reports whether the node's instance is stopped or
// suspended (or on its way there).
func (c *Cloud) InstanceShutdown(ctx context.Context, node *v1.Node) (bool, error) {
	inst, err := c.findInstance(ctx, node)
	if err != nil {
		if computeclient.IsNotFound(err) || isInstanceNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return isShutDown(inst.Status), nil
}

// InstanceMetadata describes the node's instance: providerID, machine type,
// addresses, zone and region.
func (c *Cloud) InstanceMetadata(ctx context.Context, node *v1.Node) (*cloudprovider.InstanceMetadata, error) {
	inst, err := c.findInstance(ctx, node)
	if err != nil {
		return nil, err
	}
	return instanceMetadata(c.project, c.cfg.StackType, inst), nil
}

// instanceMetadata is the pure mapping from an instance to what the node
// controller writes on the node. stackType is [global] stack-type.
func instanceMetadata(project, stackType string, inst *compute.Instance) *cloudprovider.InstanceMetadata {
	zone := ownership.LastSegment(inst.Zone)
	return &cloudprovider.InstanceMetadata{
		ProviderID:    providerID{Project: project, Zone: zone, Name: inst.Name}.String(),
		InstanceType:  ownership.LastSegment(inst.MachineType),
		NodeAddresses: orderAddresses(nodeAddresses(inst), stackType == "IPV6"),
		Zone:          zone,
		Region:        regionOf(zone),
	}
}

// nodeAddresses lists an instance's addresses: InternalIP from each
// interface's networkIP, then its IPv6 address; ExternalIP from each access
// config's natIP; and the Hostname.
//
// The IPv6 address is an InternalIP whatever its reach, as upstream reports
// it (kubernetes/cloud-provider-gcp providers/gce/gce_instances.go,
// nodeAddressesFromInstance, getIPV6AddressFromInterface): the interface's
// ipv6Address, or, on a subnetwork whose ipv6AccessType is EXTERNAL, the
// externalIpv6 of its ipv6AccessConfigs. There is no NAT in IPv6: the NIC
// holds that address itself, unlike an IPv4 natIP. Reported as ExternalIP
// it would make a kubelet's dual-stack --node-ip drop the node's external
// IPv4 (k8s.io/cloud-provider node/helpers/address.go keeps one address of
// each type a node IP has).
func nodeAddresses(inst *compute.Instance) []v1.NodeAddress {
	var out []v1.NodeAddress
	add := func(t v1.NodeAddressType, a string) {
		if a != "" {
			out = append(out, v1.NodeAddress{Type: t, Address: a})
		}
	}
	for _, nic := range inst.NetworkInterfaces {
		add(v1.NodeInternalIP, nic.NetworkIP)
		add(v1.NodeInternalIP, ipv6AddressOf(nic))
	}
	for _, nic := range inst.NetworkInterfaces {
		for _, ac := range nic.AccessConfigs {
			add(v1.NodeExternalIP, ac.NatIP)
		}
	}
	host := inst.Hostname
	if host == "" {
		host = inst.Name
	}
	add(v1.NodeHostName, host)
	return out
}

// orderAddresses puts the addresses of the cluster's first IP family first
// (IPv6 in an IPv6 cluster, else IPv4), with the Hostname among them, and
// keeps the order within each part, as upstream does
// (kubernetes/cloud-provider-gcp providers/gce/gce_instances.go,
// orderAddresses): the kubelet takes a node's first address of a type.
func orderAddresses(addrs []v1.NodeAddress, preferIPv6 bool) []v1.NodeAddress {
	out := make([]v1.NodeAddress, 0, len(addrs))
	for _, first := range []bool{true, false} {
		for _, a := range addrs {
			ip, err := netip.ParseAddr(a.Address)
			preferred := err != nil || ip.Is6() == preferIPv6
			if preferred == first {
				out = append(out, a)
			}
		}
	}
	return out
}

// ipv6AddressOf is the interface's own IPv6 address, internal or external
// (upstream's getIPV6AddressFromInterface), or "".
func ipv6AddressOf(nic *compute.NetworkInterface) string {
	if nic.Ipv6Address != "" || nic.Ipv6AccessType != "EXTERNAL" {
		return nic.Ipv6Address
	}
	for _, ac := range nic.Ipv6AccessConfigs {
		if ac.ExternalIpv6 != "" {
			return ac.ExternalIpv6
		}
	}
	return ""
}

// isInstanceNotFound: no managed zone has the instance (findInstanceByName
// wraps cloudprovider.InstanceNotFound).
func isInstanceNotFound(err error) bool { return errors.Is(err, cloudprovider.InstanceNotFound) }

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

package cluster

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
)

// The VPC every e2e test and local-up use: network "default", subnetwork
// "nodes" (10.0.0.0/20 in us-central1), instances tagged "k8s-node".
const (
	NetworkName    = "default"
	SubnetworkName = "nodes"
	Region         = "us-central1"
	NodeTag        = "k8s-node"
)

// EnsureVPC creates the network and subnetwork unless they exist.
func (f *FakeGCE) EnsureVPC(ctx context.Context) error {
	if _, err := f.Compute.Networks.Get(f.Project, NetworkName).Context(ctx).Do(); isNotFound(err) {
		// Custom mode: without ForceSendFields the client omits false and
		// the API makes an auto-mode network, with a subnetwork in every
		// region beside "nodes".
		op, err := f.Compute.Networks.Insert(f.Project, &compute.Network{Name: NetworkName, AutoCreateSubnetworks: false,
			ForceSendFields: []string{"AutoCreateSubnetworks"}}).Context(ctx).Do()
		if err := f.wait(ctx, op, err); err != nil {
			return fmt.Errorf("insert network: %w", err)
		}
	}
	if _, err := f.Compute.Subnetworks.Get(f.Project, Region, SubnetworkName).Context(ctx).Do(); isNotFound(err) {
		op, err := f.Compute.Subnetworks.Insert(f.Project, Region, &compute.Subnetwork{Name: SubnetworkName,
			Network: "global/networks/" + NetworkName, IpCidrRange: "10.0.0.0/20"}).Context(ctx).Do()
		if err := f.wait(ctx, op, err); err != nil {
			return fmt.Errorf("insert subnetwork: %w", err)
		}
	}
	return nil
}

// EnsureInstance creates an instance the way terraform does (boot disk from
// an image family, the node tag, an external address) unless it exists.
func (f *FakeGCE) EnsureInstance(ctx context.Context, zone, name string) (*compute.Instance, error) {
	return f.EnsureTaggedInstance(ctx, zone, name, NodeTag)
}

// EnsureTaggedInstance is EnsureInstance with another network tag: that of
// the nodes of a second cluster in the project.
func (f *FakeGCE) EnsureTaggedInstance(ctx context.Context, zone, name, tag string) (*compute.Instance, error) {
	inst, err := f.Compute.Instances.Get(f.Project, zone, name).Context(ctx).Do()
	if err == nil {
		return inst, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	op, err := f.Compute.Instances.Insert(f.Project, zone, &compute.Instance{
		Name: name, MachineType: "zones/" + zone + "/machineTypes/e2-standard-4",
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: "regions/" + Region + "/subnetworks/" + SubnetworkName,
			AccessConfigs: []*compute.AccessConfig{{Name: "External NAT", Type: "ONE_TO_ONE_NAT"}}}},
		Tags:   &compute.Tags{Items: []string{tag}},
		Labels: map[string]string{"role": "node"},
	}).Context(ctx).Do()
	if err := f.wait(ctx, op, err); err != nil {
		return nil, fmt.Errorf("insert instance %s: %w", name, err)
	}
	return f.Compute.Instances.Get(f.Project, zone, name).Context(ctx).Do()
}

// wait waits for a zonal, regional or global operation.
func (f *FakeGCE) wait(ctx context.Context, op *compute.Operation, err error) error {
	for err == nil && op.Status != "DONE" {
		time.Sleep(20 * time.Millisecond)
		switch {
		case op.Zone != "":
			op, err = f.Compute.ZoneOperations.Get(f.Project, lastPart(op.Zone), op.Name).Context(ctx).Do()
		case op.Region != "":
			op, err = f.Compute.RegionOperations.Get(f.Project, lastPart(op.Region), op.Name).Context(ctx).Do()
		default:
			op, err = f.Compute.GlobalOperations.Get(f.Project, op.Name).Context(ctx).Do()
		}
	}
	if err != nil {
		return err
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		return fmt.Errorf("operation %s: %s", op.Name, op.Error.Errors[0].Message)
	}
	return nil
}

// Wait waits for an operation returned by a call on f.Compute.
func (f *FakeGCE) Wait(ctx context.Context, op *compute.Operation, err error) error {
	return f.wait(ctx, op, err)
}

func isNotFound(err error) bool {
	e, ok := err.(*googleapi.Error)
	return ok && e.Code == 404
}

func lastPart(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[i+1:]
		}
	}
	return s
}

package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// The lab's cloud, as the lab contract has it.
const (
	network         = "default"
	subnetwork      = "nodes"
	region          = "us-central1"
	nodesRange      = "10.128.0.0/20"
	clusterCIDR     = "10.64.0.0/16"
	externalIPRange = "203.0.113.0/24"
	clusterName     = "lab"
	nodeTag         = "k8s-node"
	// A VM that runs no Kubernetes, in a subnetwork of its own, so that
	// lab-allow-internal (the nodes' and pods' ranges) does not let it in
	// and only the CCM's rules do.
	vmName       = "vm-1"
	vmSubnetwork = "clients"
	vmRange      = "10.129.0.0/24"
)

// vmIP is the VM's networkIP.
var vmIP = netip.MustParseAddr("10.129.0.20")

// zones hold node-1, node-2 and node-3 in turn.
var zones = []string{"us-central1-a", "us-central1-b", "us-central1-c"}

// internalIP of node N is 10.128.0.(10+N); its pod CIDR is 10.64.N.0/24.
func internalIP(n int) netip.Addr { return netip.AddrFrom4([4]byte{10, 128, 0, byte(10 + n)}) }
func podCIDR(n int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 64, byte(n), 0}), 24)
}

// nodeIPv6 of node N is the N+10th address of the nodes' subnetwork's
// external IPv6 /64, outside the /96 ranges fake-gce hands to IPv6
// forwarding rules (the second 32 bits of the interface part are never
// zero in theirs).
func nodeIPv6(prefix netip.Prefix, n int) netip.Addr {
	a := prefix.Masked().Addr().As16()
	a[15] = byte(10 + n)
	return netip.AddrFrom16(a)
}

// createVPC makes the network, the nodes' subnetwork, a firewall rule that
// lets nodes and pods talk to each other (what a cluster's terraform adds)
// and one that lets SSH in, the instances node-1..3, and the VM vm-1 (no
// external address) in the subnetwork clients; it returns the instances
// as the topology's nodes and VMs.
func (e *env) createVPC(ctx context.Context) ([]topology.NodeSpec, []topology.VMSpec, error) {
	c, project := e.cloud.Compute, e.cloud.Project
	op, err := c.Networks.Insert(project, &compute.Network{Name: network, AutoCreateSubnetworks: false,
		// Custom mode: without it the client omits false and the API makes an
		// auto-mode network, whose us-central1 subnetwork takes 10.128.0.0/20.
		ForceSendFields: []string{"AutoCreateSubnetworks"}}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		return nil, nil, fmt.Errorf("insert network %s: %w", network, err)
	}
	// Dual-stack, so that IPv6 forwarding rules (of ipv6AccessType
	// EXTERNAL) take their /96 from it and the nodes have IPv6 addresses
	// for their health checks.
	op, err = c.Subnetworks.Insert(project, region, &compute.Subnetwork{Name: subnetwork, Network: "global/networks/" + network,
		IpCidrRange: nodesRange, StackType: "IPV4_IPV6", Ipv6AccessType: "EXTERNAL"}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		return nil, nil, fmt.Errorf("insert subnetwork %s: %w", subnetwork, err)
	}
	nodes, err := c.Subnetworks.Get(project, region, subnetwork).Context(ctx).Do()
	if err != nil {
		return nil, nil, fmt.Errorf("get subnetwork %s: %w", subnetwork, err)
	}
	ipv6Range, err := netip.ParsePrefix(nodes.ExternalIpv6Prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("subnetwork %s: externalIpv6Prefix: %w", subnetwork, err)
	}
	op, err = c.Subnetworks.Insert(project, region, &compute.Subnetwork{Name: vmSubnetwork, Network: "global/networks/" + network,
		IpCidrRange: vmRange}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		return nil, nil, fmt.Errorf("insert subnetwork %s: %w", vmSubnetwork, err)
	}
	op, err = c.Firewalls.Insert(project, &compute.Firewall{Name: "lab-allow-internal", Network: "global/networks/" + network,
		Direction: "INGRESS", Priority: 1000, SourceRanges: []string{nodesRange, clusterCIDR},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		return nil, nil, fmt.Errorf("insert firewall lab-allow-internal: %w", err)
	}
	// As GCE's default network has default-allow-ssh: the nodes' sshd is
	// reachable, which a Service on port 22 must not take over.
	op, err = c.Firewalls.Insert(project, &compute.Firewall{Name: "lab-allow-ssh", Network: "global/networks/" + network,
		Direction: "INGRESS", Priority: 65534, SourceRanges: []string{"0.0.0.0/0"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"22"}}}}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		return nil, nil, fmt.Errorf("insert firewall lab-allow-ssh: %w", err)
	}
	var specs []topology.NodeSpec
	for i := 1; i <= nodeCount; i++ {
		name, zone := fmt.Sprintf("node-%d", i), zones[(i-1)%len(zones)]
		op, err := c.Instances.Insert(project, zone, &compute.Instance{
			Name: name, MachineType: "zones/" + zone + "/machineTypes/e2-standard-4", CanIpForward: true,
			Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
				InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
			NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: "regions/" + region + "/subnetworks/" + subnetwork,
				NetworkIP: internalIP(i).String(), StackType: "IPV4_IPV6", Ipv6Address: nodeIPv6(ipv6Range, i).String(),
				AccessConfigs: []*compute.AccessConfig{{Name: "External NAT", Type: "ONE_TO_ONE_NAT"}}}},
			Tags: &compute.Tags{Items: []string{nodeTag}},
		}).Context(ctx).Do()
		if err := e.cloud.Wait(ctx, op, err); err != nil {
			return nil, nil, fmt.Errorf("insert instance %s: %w", name, err)
		}
		inst, err := c.Instances.Get(project, zone, name).Context(ctx).Do()
		if err != nil {
			return nil, nil, fmt.Errorf("get instance %s: %w", name, err)
		}
		if e.natIP[name], err = netip.ParseAddr(inst.NetworkInterfaces[0].AccessConfigs[0].NatIP); err != nil {
			return nil, nil, fmt.Errorf("instance %s: natIP: %w", name, err)
		}
		specs = append(specs, topology.NodeSpec{Name: name, InternalIP: internalIP(i), PodCIDR: podCIDR(i),
			IPv6: nodeIPv6(ipv6Range, i)})
	}
	op, err = c.Instances.Insert(project, zones[0], &compute.Instance{
		Name: vmName, MachineType: "zones/" + zones[0] + "/machineTypes/e2-small",
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: "regions/" + region + "/subnetworks/" + vmSubnetwork,
			NetworkIP: vmIP.String()}},
	}).Context(ctx).Do()
	if err := e.cloud.Wait(ctx, op, err); err != nil {
		return nil, nil, fmt.Errorf("insert instance %s: %w", vmName, err)
	}
	return specs, []topology.VMSpec{{Name: vmName, InternalIP: vmIP}}, nil
}

// setPodCIDR sets a Node's pod CIDR, as kube-controller-manager's node IPAM
// would (this control plane runs none).
func setPodCIDR(ctx context.Context, cp *cluster.ControlPlane, name string, cidr netip.Prefix) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr.String(), "podCIDRs": []string{cidr.String()}}})
	if _, err := cp.Admin.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("set pod CIDR of node %s: %w", name, err)
	}
	return nil
}

// initialised reports whether the CCM has initialised the node: a
// providerID, its InternalIP, and no uninitialized taint.
func initialised(ctx context.Context, cp *cluster.ControlPlane, name string) (bool, error) {
	n, err := cp.Admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	for _, t := range n.Spec.Taints {
		if t.Key == cluster.UninitializedTaint {
			return false, fmt.Errorf("node %s still has the uninitialized taint", name)
		}
	}
	for _, a := range n.Status.Addresses {
		if a.Type == v1.NodeInternalIP && n.Spec.ProviderID != "" {
			return true, nil
		}
	}
	return false, fmt.Errorf("node %s has no InternalIP or providerID yet", name)
}

// backendHealth is what the cloud reports of the backends behind the
// forwarding rule at ip, as `gcloud compute target-pools get-health` or
// `backend-services get-health` would show it: instance name -> HEALTHY or
// UNHEALTHY. The data plane reports a probe's result only once its
// forwarding follows it, so the answer is also where new flows go.
func backendHealth(ctx context.Context, ip netip.Addr) (map[string]string, error) {
	c, project := e.cloud.Compute, e.cloud.Project
	frs, err := c.ForwardingRules.List(project, region).Filter(fmt.Sprintf("IPAddress = %q", ip)).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("list forwarding rules at %s: %w", ip, err)
	}
	if len(frs.Items) != 1 {
		return nil, fmt.Errorf("%d forwarding rules at %s, want 1", len(frs.Items), ip)
	}
	fr := frs.Items[0]
	got := map[string]string{}
	add := func(statuses []*compute.HealthStatus) {
		for _, s := range statuses {
			got[path.Base(s.Instance)] = s.HealthState
		}
	}
	switch {
	case fr.Target != "":
		tp, err := c.TargetPools.Get(project, region, path.Base(fr.Target)).Context(ctx).Do()
		if err != nil {
			return nil, fmt.Errorf("get target pool: %w", err)
		}
		for _, inst := range tp.Instances {
			h, err := c.TargetPools.GetHealth(project, region, tp.Name, &compute.InstanceReference{Instance: inst}).Context(ctx).Do()
			if err != nil {
				return nil, fmt.Errorf("get health of %s in target pool %s: %w", path.Base(inst), tp.Name, err)
			}
			add(h.HealthStatus)
		}
	case fr.BackendService != "":
		bs, err := c.RegionBackendServices.Get(project, region, path.Base(fr.BackendService)).Context(ctx).Do()
		if err != nil {
			return nil, fmt.Errorf("get backend service: %w", err)
		}
		for _, b := range bs.Backends {
			h, err := c.RegionBackendServices.GetHealth(project, region, bs.Name, &compute.ResourceGroupReference{Group: b.Group}).Context(ctx).Do()
			if err != nil {
				return nil, fmt.Errorf("get health of group %s in backend service %s: %w", path.Base(b.Group), bs.Name, err)
			}
			add(h.HealthStatus)
		}
	default:
		return nil, fmt.Errorf("forwarding rule %s has no target", fr.Name)
	}
	return got, nil
}

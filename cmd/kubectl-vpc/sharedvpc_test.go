package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

const (
	serviceProject = "service-project"
	hostProject    = "host-project"
	// sharedNetwork names the host project's network by its project.
	sharedNetwork = "network-project-id = " + hostProject + "\nnetwork-name = shared\n"
)

// newSharedVPCCluster is a cluster on a Shared VPC
// (https://cloud.google.com/vpc/docs/shared-vpc): the network shared, its
// subnetwork nodes (10.0.0.0/24), a rule from the nodes to the pods and the
// pod CIDR routes in the host project; the instances node-1..3 and the load
// balancers in the service project. network is the cloud config's [global]
// keys that name the network (sharedNetwork by default), extra is appended
// to its [cluster] section.
func newSharedVPCCluster(t *testing.T, network, extra string) *cluster {
	t.Helper()
	fc := fakegcetest.Start(t, fakegce.Config{Projects: []string{serviceProject, hostProject}})
	c := &cluster{fc: fc}
	const link = ownership.LinkBase + "projects/" + hostProject
	fixture.InsertNetwork(t, fc, hostProject, fixture.CustomNetwork("shared"))
	fixture.InsertSubnetwork(t, fc, hostProject, "us-central1", &compute.Subnetwork{Name: "nodes", Network: link + "/global/networks/shared", IpCidrRange: "10.0.0.0/24"})
	for i := 1; i <= 3; i++ {
		wait(t, fc)(fc.Compute.Instances.Insert(serviceProject, "us-central1-a", &compute.Instance{
			Name: fmt.Sprintf("node-%d", i), MachineType: "zones/us-central1-a/machineTypes/e2-medium",
			Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
			NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: link + "/regions/us-central1/subnetworks/nodes",
				AccessConfigs: []*compute.AccessConfig{{Type: "ONE_TO_ONE_NAT"}}}},
			Tags: &compute.Tags{Items: []string{"k8s-node"}}}).Do())
	}
	wait(t, fc)(fc.Compute.Firewalls.Insert(hostProject, &compute.Firewall{Name: "lab-nodes-to-pods", Network: link + "/global/networks/shared",
		SourceTags: []string{"k8s-node"}, TargetTags: []string{"k8s-node"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}}).Do())

	if network == "" {
		network = sharedNetwork
	}
	conf := fmt.Sprintf("[global]\nproject-id = %s\n%slocal-zone = us-central1-a\nnode-tags = k8s-node\napi-endpoint = %s\n[compute-api]\nno-authentication = true\n[cluster]\n%s",
		serviceProject, network, fc.Endpoint, extra)
	c.startProvider(t, serviceProject, conf)
	return c
}

// The trace of a Shared VPC cluster finds the load balancer by the name the
// provider gave it, and names its firewall rule and the pod routes: those
// of the cluster and its service project, or of the name alone with
// [cluster] shared-vpc-name-only (docs/cloud-config.md, what identifies a
// cluster), read from the cloud config as the provider reads them.
func TestRunTracesTheLoadBalancerOfASharedVPCCluster(t *testing.T) {
	tests := []struct {
		name    string
		network string
		extra   string
		owner   ownership.Cluster
	}{
		{"the service project joins the cluster's identity", "", "", ownership.ForCluster(clusterName).InServiceProject(serviceProject)},
		{"a network-name link to the host project is a Shared VPC too", "network-name = projects/" + hostProject + "/global/networks/shared\n", "",
			ownership.ForCluster(clusterName).InServiceProject(serviceProject)},
		{"shared-vpc-name-only keeps the name alone", "", "shared-vpc-name-only = true\n", ownership.ForCluster(clusterName)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newSharedVPCCluster(t, tc.network, tc.extra)
			svc, slice := web()
			status, err := c.provider.EnsureLoadBalancer(context.Background(), clusterName, svc, c.nodes)
			if err != nil {
				t.Fatal(err)
			}
			lbIP := status.Ingress[0].IP
			base := tc.owner.LoadBalancerBase(webUID)
			nodeIP := c.nodes[2].Status.Addresses[0].Address
			o := Options{CloudConfig: c.cloudConfig, ToNode: "node-3", ClusterName: clusterName}

			// Before the CCM writes the Service's status, only the
			// forwarding rule's name, made of the identity, leads to it.
			unwritten := run(t, o, c.clientset(svc, slice))
			if want := "the client connects to " + lbIP + ", the address of forwarding rule " + base + "-tcp"; len(unwritten.Hops) == 0 || unwritten.Hops[0].Description != want {
				t.Errorf("hops before the status is written %v, want first %q", hops(unwritten), want)
			}

			svc.Status.LoadBalancer = *status
			got := run(t, o, c.clientset(svc, slice))

			want := []string{
				"client: the client connects to the load balancer's address " + lbIP + " (status.loadBalancer.ingress)",
				"forwarding rule: " + base + "-tcp (TCP 80) sends it to backend service " + base + ", instance node-3 (" + nodeIP + "); passthrough: the destination stays " + lbIP,
				"VPC firewall: allowed by " + base + "-fw (priority 1000)",
				"kube-proxy DNAT: Service default/web port 80 -> endpoint web-a (10.64.1.3:8080) on node-1",
				"kube-proxy SNAT (masquerade): externalTrafficPolicy Cluster: kube-proxy masquerades external traffic so that the reply comes back through node-3: source 198.51.100.10:40000 -> " + nodeIP + ", a port picked at random (MASQUERADE --random-fully)",
				"node route: node-3 sends it to the VPC (its default route); route " + tc.owner.ResourceName("r", "node-1") + " sends 10.64.1.0/24 to instance node-1",
				"VPC firewall: allowed by lab-nodes-to-pods (priority 1000)",
				"pod: pod web-a receives it on 10.64.1.3:8080",
			}
			if diff := cmp.Diff(want, hops(got)); diff != "" {
				t.Errorf("hops (-want +got):\n%s", diff)
			}
			if got.Outcome != trace.Delivered {
				t.Errorf("outcome %s, drop %+v; want delivered", got.Outcome, got.Drop)
			}
		})
	}
}

// A nodeip drop on a Shared VPC cluster names the Service's own rule, which
// the nodeip controller made in the host project under the service
// project's identity.
func TestRunNamesTheNodeipRuleOfASharedVPCCluster(t *testing.T) {
	c := newSharedVPCCluster(t, "", "")
	svc, slice := web(func(s *v1.Service) { s.Annotations[annotations.Mode] = annotations.ModeNodeIP })
	owner := ownership.ForCluster(clusterName).InServiceProject(serviceProject)
	published := c.nodes[0].Status.Addresses[0].Address
	rule := ownership.NodeIPFirewallName(owner.LoadBalancerBase(webUID))
	wait(t, c.fc)(c.fc.Compute.Firewalls.Insert(hostProject, &compute.Firewall{Name: rule, Network: "projects/" + hostProject + "/global/networks/shared",
		Description:  owner.Description(map[string]string{ownership.ServiceKey: "default/web", ownership.ServiceUIDKey: webUID}),
		SourceRanges: []string{"0.0.0.0/0"}, DestinationRanges: []string{published + "/32"}, TargetTags: []string{"k8s-node"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}}).Do())
	svc.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: published, IPMode: ptr.To(v1.LoadBalancerIPModeVIP)}}
	node2 := c.nodes[1].Status.Addresses[0].Address

	got := run(t, Options{CloudConfig: c.cloudConfig, ToNode: "node-2", ClusterName: clusterName}, c.clientset(svc, slice))

	if got.Drop == nil || !strings.Contains(got.Drop.Reason, "the Service's rule "+rule+" lists destination "+published+" only") {
		t.Errorf("hops %v, drop %+v; want a drop at %s that names the Service's rule %s", hops(got), got.Drop, node2, rule)
	}
}

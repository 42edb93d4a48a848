package gce

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// startWithInstances starts fake-gce with the network vpc and the given
// instances (name: network tags) in us-central1-a.
func startWithInstances(t *testing.T, fcfg fakegce.Config, instances map[string][]string) *fakegcetest.Cloud {
	t.Helper()
	fc := fakegcetest.Start(t, fcfg)
	waitOp := must(t, fc)
	fixture.InsertNetwork(t, fc, fc.Project, fixture.CustomNetwork("vpc"))
	fixture.InsertSubnetwork(t, fc, fc.Project, "us-central1", &compute.Subnetwork{Name: "nodes", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0/24"})
	for name, tags := range instances {
		waitOp(fc.Compute.Instances.Insert(fc.Project, "us-central1-a", &compute.Instance{
			Name: name, MachineType: "zones/us-central1-a/machineTypes/e2-standard-4",
			Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
				InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
			NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: "regions/us-central1/subnetworks/nodes"}},
			Tags:              &compute.Tags{Items: tags},
		}).Do())
	}
	return fc
}

func testConfig(fc *fakegcetest.Cloud) *cloudconfig.Config {
	return &cloudconfig.Config{ProjectID: fc.Project, LocalZone: "us-central1-a", NetworkName: "vpc", SubnetworkName: "nodes",
		APIEndpoint: fc.Endpoint, NoAuthentication: true, API: cloudconfig.APIConfig{QPS: 1000, Burst: 1000, MaxRetries: 1}}
}

// With node-tags empty, upstream derives the load balancers' target tags
// from the nodes' instances: for each, the longest network tag its name
// starts with, and an error when one has none; node-instance-prefix narrows
// the instances listed (kubernetes/cloud-provider-gcp
// providers/gce/gce_instances.go, GetNodeTags and computeHostTags). Here the
// instances named with node-instance-prefix give the tags at start. Where no
// tag can be derived the provider refuses to start, naming the key: rules
// without target tags would open every instance of the network.
func TestNodeTagsComeFromTheConfigOrFromTheInstancesNamedWithThePrefix(t *testing.T) {
	tests := []struct {
		name      string
		instances map[string][]string
		tags      []string
		prefix    string
		want      []string
		wantErr   string
	}{
		{name: "node-tags are used as they are", tags: []string{"k8s-node"}, prefix: "kubernetes-minion",
			instances: map[string][]string{"kubernetes-minion-1": {"kubernetes-minion"}}, want: []string{"k8s-node"}},
		{name: "without node-tags, each prefixed instance's longest tag its name starts with",
			instances: map[string][]string{
				"kubernetes-minion-a1": {"kubernetes", "kubernetes-minion", "http-server"},
				"kubernetes-minion-b1": {"kubernetes-minion-b"},
				"bastion":              {"bastion"},
			},
			prefix: "kubernetes-minion", want: []string{"kubernetes-minion", "kubernetes-minion-b"}},
		{name: "a prefixed instance without a tag its name starts with is refused",
			instances: map[string][]string{"kubernetes-minion-1": {"kubernetes-minion"}, "kubernetes-minion-2": {"web"}},
			prefix:    "kubernetes-minion",
			wantErr: `cloud config: [global] node-tags: not set, and instance kubernetes-minion-2 (named with node-instance-prefix "kubernetes-minion") has no network tag its name starts with: ` +
				`set node-tags to the nodes' network tags`},
		{name: "a prefix that names no instance is refused", instances: map[string][]string{"bastion": {"bastion"}}, prefix: "kubernetes-minion",
			wantErr: `cloud config: [global] node-tags: not set, and no instance in zones us-central1-a is named with node-instance-prefix "kubernetes-minion": ` +
				`set node-tags to the nodes' network tags`},
		{name: "neither node-tags nor node-instance-prefix is refused", instances: map[string][]string{"node-1": {"node"}},
			wantErr: `cloud config: [global] node-tags: not set: set the nodes' network tags (or node-instance-prefix); ` +
				`without them the load balancers' firewall rules would open every instance of the network`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := startWithInstances(t, fakegce.Config{}, tt.instances)
			cfg := testConfig(fc)
			cfg.NodeTags, cfg.NodeInstancePrefix = tt.tags, tt.prefix
			p, err := New(context.Background(), cfg, Options{ClusterName: cluster})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("New: %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.cfg.NodeTags); diff != "" {
				t.Errorf("node tags (-want +got):\n%s", diff)
			}
		})
	}
}

// A numeric project-id or network-project-id is read as the project's id
// with projects.get, as upstream does (kubernetes/cloud-provider-gcp
// providers/gce/gce.go, tryConvertToProjectNames): providerIDs and links
// name projects by id.
func TestANumericProjectIDIsReadAsTheProjectsID(t *testing.T) {
	const service, host = "service-project", "host-project"
	fc := fakegcetest.Start(t, fakegce.Config{Projects: []string{service, host}})
	number := func(project string) string {
		p, err := fc.Compute.Projects.Get(project).Do()
		if err != nil {
			t.Fatal(err)
		}
		return strconv.FormatUint(p.Id, 10)
	}
	cfg := &cloudconfig.Config{ProjectID: number(service), NetworkProjectID: number(host), NetworkName: "shared", LocalZone: "us-central1-a",
		NodeTags: []string{"k8s-node"}, APIEndpoint: fc.Endpoint, NoAuthentication: true, API: cloudconfig.APIConfig{QPS: 1000, Burst: 1000, MaxRetries: 1}}
	p, err := New(context.Background(), cfg, Options{ClusterName: cluster})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{p.project, p.cfg.ProjectID, p.cfg.NetworkProjectID, p.networkURL}
	want := []string{service, service, host, ownership.LinkBase + "projects/" + host + "/global/networks/shared"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("project, project-id, network-project-id, network (-want +got):\n%s", diff)
	}

	cfg.ProjectID = "100000000001"
	if _, err := New(context.Background(), cfg, Options{ClusterName: cluster}); err == nil ||
		err.Error() != `cloud config: [global] project-id: cannot read project 100000000001: googleapi: Error 404: The resource 'projects/100000000001' was not found, notFound` {
		t.Errorf("New with a number no project has: %v", err)
	}
}

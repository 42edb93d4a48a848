package gce

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// testCloud is a fake VPC with a network, a subnetwork and instances, and
// the provider pointed at it.
type testCloud struct {
	*fakegcetest.Cloud
	provider *Cloud
}

func newTestCloud(t *testing.T, fcfg fakegce.Config, tune func(*cloudconfig.Config)) *testCloud {
	t.Helper()
	fc := fakegcetest.Start(t, fcfg)
	tc := &testCloud{Cloud: fc}
	// Custom mode: without ForceSendFields the client omits false and the
	// API makes an auto-mode network, with a subnetwork in every region.
	fixture.InsertNetwork(t, fc, fc.Project, fixture.CustomNetwork("vpc"))
	fixture.InsertSubnetwork(t, fc, fc.Project, "us-central1", &compute.Subnetwork{Name: "nodes", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0/24"})
	cfg := &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: fc.Project, LocalZone: "us-central1-a", NetworkName: "vpc", SubnetworkName: "nodes",
		APIEndpoint: fc.Endpoint, NoAuthentication: true, API: cloudconfig.APIConfig{QPS: 1000, Burst: 1000, MaxRetries: 1}}
	if tune != nil {
		tune(cfg)
	}
	p, err := New(context.Background(), cfg, Options{ClusterName: "test-cluster"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tc.provider = p
	return tc
}

// must waits for a setup call's operation, as a client does, and fails the
// test when the call or its operation fails.
func must(t *testing.T, c *fakegcetest.Cloud) func(*compute.Operation, error) {
	return func(op *compute.Operation, err error) {
		t.Helper()
		if err == nil {
			op, err = c.WaitOperation(context.Background(), op)
		}
		if err != nil {
			t.Fatalf("setup: %v", err)
		}
		if op.Error != nil {
			t.Fatalf("setup: operation %s failed: %v", op.Name, op.Error.Errors[0].Message)
		}
	}
}

// addInstance creates an instance the way terraform would.
func (tc *testCloud) addInstance(t *testing.T, zone, name string) *compute.Instance {
	t.Helper()
	op, err := tc.Compute.Instances.Insert(tc.Project, zone, &compute.Instance{
		Name: name, MachineType: "zones/" + zone + "/machineTypes/e2-standard-4",
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: "regions/us-central1/subnetworks/nodes", AccessConfigs: []*compute.AccessConfig{{}}}},
		Tags:              &compute.Tags{Items: []string{"k8s-node"}},
	}).Do()
	if err == nil {
		_, err = tc.WaitOperation(context.Background(), op)
	}
	if err != nil {
		t.Fatalf("insert instance %s: %v", name, err)
	}
	inst, err := tc.Compute.Instances.Get(tc.Project, zone, name).Do()
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func node(name, providerID string) *v1.Node {
	return fixture.Node(name, fixture.ProviderID(providerID))
}

func TestInstanceMetadataDescribesTheNode(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.Multizone = true })
	inst := tc.addInstance(t, "us-central1-b", "node-1")
	nic := inst.NetworkInterfaces[0]
	want := &cloudprovider.InstanceMetadata{
		ProviderID:   "gce://fake-project/us-central1-b/node-1",
		InstanceType: "e2-standard-4",
		NodeAddresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: nic.NetworkIP},
			{Type: v1.NodeExternalIP, Address: nic.AccessConfigs[0].NatIP},
			{Type: v1.NodeHostName, Address: "node-1"},
		},
		Zone: "us-central1-b", Region: "us-central1",
	}
	tests := []struct {
		name string
		node *v1.Node
	}{
		{name: "a node registered by an external-cloud kubelet, found by name", node: node("node-1", "")},
		{name: "a node registered with its FQDN", node: node("node-1.us-central1-b.c.fake-project.internal", "")},
		{name: "a node with a providerID", node: node("node-1", "gce://fake-project/us-central1-b/node-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc.ResetCalls()
			got, err := tc.provider.InstanceMetadata(context.Background(), tt.node)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("InstanceMetadata (-want +got):\n%s", diff)
			}
			if n := len(tc.Server.Calls()); n != 1 {
				t.Errorf("made %d API calls, want 1 (one get, or one aggregated list)", n)
			}
		})
	}
}

func (tc *testCloud) ResetCalls() { tc.Server.ResetCalls() }

func TestMultizoneClustersFindNodesInEveryZoneOfTheRegion(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.Multizone = true })
	tc.addInstance(t, "us-central1-c", "node-c")
	if got := tc.provider.managedZones; !cmp.Equal(got, []string{"us-central1-a", "us-central1-b", "us-central1-c"}) {
		t.Errorf("managed zones = %v", got)
	}
	md, err := tc.provider.InstanceMetadata(context.Background(), node("node-c", ""))
	if err != nil || md.Zone != "us-central1-c" {
		t.Fatalf("InstanceMetadata = %+v, %v", md, err)
	}
	single := newTestCloud(t, fakegce.Config{}, nil)
	single.addInstance(t, "us-central1-c", "node-c")
	if md, err := single.provider.InstanceMetadata(context.Background(), node("node-c", "")); err == nil {
		t.Errorf("a single-zone cluster described an instance outside its zone: %+v", md)
	}
}

// The node lifecycle controller of k8s.io/cloud-provider deletes a node for
// which InstanceExists answers false with no error, and only logs an error
// (controllers/nodelifecycle, ensureNodeExistsByProviderID). An instance
// that is alive in a zone the cluster does not manage is not gone: the
// answer is an error, and the node stays.
func TestANodeInAZoneOutsideTheManagedOnesIsNotReportedGone(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	tc.addInstance(t, "us-central1-c", "node-c")
	ctx := context.Background()
	n := node("node-c", "")
	if ok, err := tc.provider.InstanceExists(ctx, n); err == nil {
		t.Errorf("InstanceExists of a live instance in an unmanaged zone = %v, nil; want an error", ok)
	} else if errors.Is(err, cloudprovider.InstanceNotFound) || !strings.Contains(err.Error(), "us-central1-c") {
		t.Errorf("InstanceExists error %q: want one that names the zone and is not InstanceNotFound", err)
	}
	if down, err := tc.provider.InstanceShutdown(ctx, n); err == nil {
		t.Errorf("InstanceShutdown of a live instance in an unmanaged zone = %v, nil; want an error", down)
	}
	if _, err := tc.provider.GetZoneByNodeName(ctx, "node-c"); err == nil || errors.Is(err, cloudprovider.InstanceNotFound) {
		t.Errorf("GetZoneByNodeName of an instance in an unmanaged zone: %v; want an error other than InstanceNotFound", err)
	}
}

// Without local-zone in the cloud config, each replica would take its own
// zone from the metadata server, and the managed zones of a single-zone
// cluster would change with the leader. The zones are the cluster's, so
// the config must say them.
func TestAZoneFromOneReplicasMetadataDoesNotDecideTheManagedZones(t *testing.T) {
	fc := fakegcetest.Start(t, fakegce.Config{MetadataInstance: "us-central1-b/master"})
	fixture.InsertNetwork(t, fc, fc.Project, &compute.Network{Name: "vpc"})
	must(t, fc)(fc.Compute.Instances.Insert(fc.Project, "us-central1-b", &compute.Instance{Name: "master", MachineType: "zones/us-central1-b/machineTypes/e2-medium",
		Disks:             []*compute.AttachedDisk{{Boot: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/vpc"}}}).Do())
	t.Setenv("GCE_METADATA_HOST", fc.Host)
	_, err := New(context.Background(), &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: fc.Project, NetworkName: "vpc", APIEndpoint: fc.Endpoint, NoAuthentication: true}, Options{ClusterName: "c"})
	var cerr *cloudconfig.Error
	if !errors.As(err, &cerr) || cerr.Key != "[global] local-zone" {
		t.Errorf("New = %v; want a config error naming [global] local-zone", err)
	}
	p, err := New(context.Background(), &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: fc.Project, NetworkName: "vpc", APIEndpoint: fc.Endpoint, NoAuthentication: true, Regional: true}, Options{ClusterName: "c"})
	if err != nil {
		t.Fatalf("New of a regional cluster with the zone from the metadata server: %v", err)
	}
	if got := p.managedZones; !cmp.Equal(got, []string{"us-central1-a", "us-central1-b", "us-central1-c"}) {
		t.Errorf("managed zones = %v, want every zone of the region", got)
	}
}

func TestInstanceExistsAndShutdownFollowTheInstance(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	tc.addInstance(t, "us-central1-a", "node-1")
	ctx := context.Background()
	byName, byID := node("node-1", ""), node("node-1", "gce://fake-project/us-central1-a/node-1")
	for _, n := range []*v1.Node{byName, byID} {
		if ok, err := tc.provider.InstanceExists(ctx, n); !ok || err != nil {
			t.Errorf("InstanceExists(%q) = %v, %v; want true", n.Spec.ProviderID, ok, err)
		}
		if down, err := tc.provider.InstanceShutdown(ctx, n); down || err != nil {
			t.Errorf("InstanceShutdown of a running instance = %v, %v", down, err)
		}
	}
	must(t, tc.Cloud)(tc.Compute.Instances.Stop(tc.Project, "us-central1-a", "node-1").Do())
	for _, n := range []*v1.Node{byName, byID} {
		if down, err := tc.provider.InstanceShutdown(ctx, n); !down || err != nil {
			t.Errorf("InstanceShutdown of a stopped instance = %v, %v; want true", down, err)
		}
		if ok, _ := tc.provider.InstanceExists(ctx, n); !ok {
			t.Errorf("a stopped instance does not exist")
		}
	}
	must(t, tc.Cloud)(tc.Compute.Instances.Delete(tc.Project, "us-central1-a", "node-1").Do())
	for _, n := range []*v1.Node{byName, byID} {
		if ok, err := tc.provider.InstanceExists(ctx, n); ok || err != nil {
			t.Errorf("InstanceExists of a deleted instance = %v, %v; want false, nil", ok, err)
		}
	}
}

func TestInstanceLookupsReportAPIErrors(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	tc.Server.SetFaults([]fakegce.FaultRule{{Method: "GET", Path: "instances", Code: 403, Reason: "forbidden"}})
	if ok, err := tc.provider.InstanceExists(context.Background(), node("node-1", "gce://fake-project/us-central1-a/node-1")); err == nil {
		t.Errorf("InstanceExists = %v with a 403 from the API, want an error (not a deleted node)", ok)
	}
}

func TestProviderIDs(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		want    providerID
		wantErr bool
	}{
		{name: "a full providerID", id: "gce://p1/us-central1-a/node-1", want: providerID{"p1", "us-central1-a", "node-1"}},
		{name: "another provider's id", id: "aws:///us-east-1a/i-1", wantErr: true},
		{name: "a providerID without a zone", id: "gce://p1//node-1", wantErr: true},
		{name: "a providerID with extra parts", id: "gce://p1/z/n/x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProviderID(tt.id)
			if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
				t.Errorf("parseProviderID(%q) = %v, %v", tt.id, got, err)
			}
			if err == nil && got.String() != tt.id {
				t.Errorf("String() = %q, want %q", got.String(), tt.id)
			}
		})
	}
}

func TestNodeAddresses(t *testing.T) {
	tests := []struct {
		name string
		inst *compute.Instance
		want []v1.NodeAddress
	}{
		{name: "an instance without an external address", inst: &compute.Instance{Name: "n",
			NetworkInterfaces: []*compute.NetworkInterface{{NetworkIP: "10.0.0.2"}}},
			want: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.0.0.2"}, {Type: v1.NodeHostName, Address: "n"}}},
		{name: "a dual-stack instance with two interfaces and a custom hostname (its ipv6Address is its IPv6 address, TestNodeAddressesReportIPv6AsUpstreamDoes)", inst: &compute.Instance{Name: "n", Hostname: "n.example.com",
			NetworkInterfaces: []*compute.NetworkInterface{
				{NetworkIP: "10.0.0.2", Ipv6Address: "fd20::2", AccessConfigs: []*compute.AccessConfig{{NatIP: "203.0.113.5"}},
					Ipv6AccessConfigs: []*compute.AccessConfig{{ExternalIpv6: "2600:1900::5"}}},
				{NetworkIP: "10.1.0.2"},
			}},
			want: []v1.NodeAddress{
				{Type: v1.NodeInternalIP, Address: "10.0.0.2"}, {Type: v1.NodeInternalIP, Address: "fd20::2"},
				{Type: v1.NodeInternalIP, Address: "10.1.0.2"},
				{Type: v1.NodeExternalIP, Address: "203.0.113.5"},
				{Type: v1.NodeHostName, Address: "n.example.com"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, nodeAddresses(tt.inst)); diff != "" {
				t.Errorf("nodeAddresses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestZones(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.Regional = true })
	tc.addInstance(t, "us-central1-b", "node-1")
	ctx := context.Background()
	want := cloudprovider.Zone{FailureDomain: "us-central1-b", Region: "us-central1"}
	if z, err := tc.provider.GetZoneByProviderID(ctx, "gce://fake-project/us-central1-b/node-1"); err != nil || z != want {
		t.Errorf("GetZoneByProviderID = %v, %v", z, err)
	}
	if z, err := tc.provider.GetZoneByNodeName(ctx, "node-1"); err != nil || z != want {
		t.Errorf("GetZoneByNodeName = %v, %v", z, err)
	}
	if z, err := tc.provider.GetZone(ctx); err != nil || z.FailureDomain != "us-central1-a" {
		t.Errorf("GetZone = %v, %v", z, err)
	}
	if _, err := tc.provider.GetZoneByNodeName(ctx, "missing"); !errors.Is(err, cloudprovider.InstanceNotFound) {
		t.Errorf("GetZoneByNodeName of a missing node: %v", err)
	}
}

func TestMissingValuesComeFromTheMetadataServer(t *testing.T) {
	fc := fakegcetest.Start(t, fakegce.Config{MetadataInstance: "us-central1-b/master"})
	fixture.InsertNetwork(t, fc, fc.Project, &compute.Network{Name: "vpc"})
	must(t, fc)(fc.Compute.Instances.Insert(fc.Project, "us-central1-b", &compute.Instance{Name: "master", MachineType: "zones/us-central1-b/machineTypes/e2-medium",
		Disks:             []*compute.AttachedDisk{{Boot: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/vpc"}}}).Do())
	t.Setenv("GCE_METADATA_HOST", fc.Host)
	cfg := &cloudconfig.Config{NodeTags: []string{"k8s-node"}, APIEndpoint: fc.Endpoint, NoAuthentication: true, Regional: true}
	p, err := New(context.Background(), cfg, Options{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if p.project != "fake-project" || p.localZone != "us-central1-b" || p.region != "us-central1" ||
		p.networkURL != "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/vpc" {
		t.Errorf("from metadata: project %q zone %q region %q network %q", p.project, p.localZone, p.region, p.networkURL)
	}
}

func TestWithoutConfigOrMetadataTheErrorNamesTheKey(t *testing.T) {
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	_, err := New(context.Background(), &cloudconfig.Config{NodeTags: []string{"k8s-node"}, LocalZone: "us-central1-a", NetworkName: "n", NoAuthentication: true}, Options{ClusterName: "c"})
	var cerr *cloudconfig.Error
	if !errors.As(err, &cerr) || cerr.Key != "[global] project-id" {
		t.Errorf("err = %v, want a config error naming [global] project-id", err)
	}
}

// tokenServer is a token endpoint that hands out one token and counts requests.
func tokenServer(t *testing.T, body string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestAuthenticationModes(t *testing.T) {
	const token = "s3cret-token"
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	tests := []struct {
		name  string
		setup func(t *testing.T, fc *fakegcetest.Cloud, cfg *cloudconfig.Config) *atomic.Int32
	}{
		{name: "the metadata server's token (the default)", setup: func(t *testing.T, fc *fakegcetest.Cloud, cfg *cloudconfig.Config) *atomic.Int32 {
			t.Setenv("GCE_METADATA_HOST", fc.Host)
			return nil
		}},
		{name: "a token-url and token-body", setup: func(t *testing.T, fc *fakegcetest.Cloud, cfg *cloudconfig.Config) *atomic.Int32 {
			// The request for a token carries the metadata server's.
			t.Setenv("GCE_METADATA_HOST", fc.Host)
			srv, n := tokenServer(t, `{"accessToken":"`+token+`","expireTime":"2099-01-01T00:00:00Z"}`)
			cfg.TokenURL, cfg.TokenBody = srv.URL, `{"scope":"compute"}`
			return n
		}},
		{name: "a service-account key file", setup: func(t *testing.T, fc *fakegcetest.Cloud, cfg *cloudconfig.Config) *atomic.Int32 {
			srv, n := tokenServer(t, `{"access_token":"`+token+`","token_type":"Bearer","expires_in":3600}`)
			keyFile, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "fake-project",
				"private_key_id": "k1", "private_key": string(keyPEM), "client_email": "ccm@fake-project.iam.gserviceaccount.com",
				"token_uri": srv.URL})
			path := filepath.Join(t.TempDir(), "key.json")
			os.WriteFile(path, keyFile, 0o600)
			cfg.CredentialsFile = path
			return n
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := fakegcetest.Start(t, fakegce.Config{RequireToken: token, ServeMetadataToken: true})
			cfg := &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: fc.Project, LocalZone: "us-central1-a", NetworkName: "vpc", APIEndpoint: fc.Endpoint,
				API: cloudconfig.APIConfig{QPS: 100, Burst: 100}}
			counter := tt.setup(t, fc, cfg)
			p, err := New(context.Background(), cfg, Options{ClusterName: "c"})
			if err != nil {
				t.Fatal(err)
			}
			// Two calls: both authenticated (the fake answers 401 otherwise), one token fetched.
			for i := 0; i < 2; i++ {
				if _, err := p.ListRoutes(context.Background(), "c"); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if counter != nil && counter.Load() != 1 {
				t.Errorf("token endpoint asked %d times, want 1 (tokens are reused)", counter.Load())
			}
		})
	}
}

func TestNoAuthenticationAgainstATokenRequiringAPIFails(t *testing.T) {
	fc := fakegcetest.Start(t, fakegce.Config{RequireToken: "t"})
	p, err := New(context.Background(), &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: fc.Project, LocalZone: "us-central1-a", NetworkName: "vpc",
		APIEndpoint: fc.Endpoint, NoAuthentication: true}, Options{ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.ListRoutes(context.Background(), "c")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("err = %v, want a 401", err)
	}
	if strings.Contains(err.Error(), "Bearer") {
		t.Errorf("the error shows credentials: %v", err)
	}
}

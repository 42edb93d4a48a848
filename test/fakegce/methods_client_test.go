package fakegce_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
)

func TestTheCatalogDescribesProjectRegionsZonesAndMachineTypes(t *testing.T) {
	c := start(t)
	p := "projects/" + c.Project
	proj, err := c.Compute.Projects.Get(c.Project).Do()
	if err != nil {
		t.Fatal(err)
	}
	if proj.Name != c.Project || proj.Kind != "compute#project" || proj.Id == 0 || proj.DefaultServiceAccount == "" {
		t.Errorf("project = %s %s id %d sa %q", proj.Name, proj.Kind, proj.Id, proj.DefaultServiceAccount)
	}
	r, err := c.Compute.Regions.Get(c.Project, region).Do()
	if err != nil {
		t.Fatal(err)
	}
	wantZones := []string{link(p + "/zones/us-central1-a"), link(p + "/zones/us-central1-b"), link(p + "/zones/us-central1-c")}
	if r.Status != "UP" || !cmp.Equal(wantZones, r.Zones) {
		t.Errorf("region = %s zones %v, want UP with %v", r.Status, r.Zones, wantZones)
	}
	regions, err := c.Compute.Regions.List(c.Project).Do()
	if err != nil || len(regions.Items) != 1 || regions.Items[0].Name != region {
		t.Errorf("regions.list = %+v (%v), want [%s]", regions, err, region)
	}
	z, err := c.Compute.Zones.Get(c.Project, zone).Do()
	if err != nil || z.Region != link(p+"/regions/"+region) || z.Status != "UP" {
		t.Errorf("zone = %+v (%v), want UP in %s", z, err, region)
	}
	zones, err := c.Compute.Zones.List(c.Project).Filter("name eq .*-b").Do()
	if err != nil || len(zones.Items) != 1 || zones.Items[0].Name != "us-central1-b" {
		t.Errorf("zones.list filtered = %+v (%v), want [us-central1-b]", zones, err)
	}
	mt, err := c.Compute.MachineTypes.Get(c.Project, zone, "e2-standard-4").Do()
	if err != nil || mt.GuestCpus != 4 || mt.MemoryMb != 16384 {
		t.Errorf("machine type = %+v (%v), want 4 CPUs and 16384 MB", mt, err)
	}
	if _, err := c.Compute.MachineTypes.Get(c.Project, zone, "z9-huge").Do(); !isCode(t, err, 404) {
		t.Errorf("unknown machine type: %v, want 404", err)
	}
}

func TestFirewallsCanBeInsertedReadPatchedUpdatedAndDeleted(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	fws := c.Compute.Firewalls
	insertFirewall(t, c, newFirewall("fw", withTargetTags("web"), withSourceRanges("10.0.0.0/8")))

	wait(t, c)(fws.Patch(c.Project, "fw", &compute.Firewall{
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"443", "8000-8080"}}},
	}).Do())
	got, err := fws.Get(c.Project, "fw").Do()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"443", "8000-8080"}, got.Allowed[0].Ports); diff != "" {
		t.Errorf("ports after patch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"web"}, got.TargetTags); diff != "" {
		t.Errorf("patch must keep fields it does not name; target tags (-want +got):\n%s", diff)
	}

	// Update replaces the whole rule: fields left out go back to their defaults.
	wait(t, c)(fws.Update(c.Project, "fw", &compute.Firewall{Name: "fw", Network: "global/networks/default",
		Denied: []*compute.FirewallDenied{{IPProtocol: "udp"}}, Priority: 500}).Do())
	got, err = fws.Get(c.Project, "fw").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Allowed) != 0 || len(got.Denied) != 1 || len(got.TargetTags) != 0 || got.Priority != 500 ||
		!cmp.Equal([]string{"0.0.0.0/0"}, got.SourceRanges) {
		t.Errorf("after update: allowed %v denied %v tags %v priority %d sources %v; want only the denied rule at 500 from anywhere",
			got.Allowed, got.Denied, got.TargetTags, got.Priority, got.SourceRanges)
	}

	insertFirewall(t, c, newFirewall("fw2"))
	list, err := fws.List(c.Project).Do()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fw", "fw2"}, firewallNames(list.Items)); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	wait(t, c)(fws.Delete(c.Project, "fw").Do())
	if _, err := fws.Get(c.Project, "fw").Do(); !isCode(t, err, 404) {
		t.Errorf("get after delete: %v, want 404", err)
	}
}

func TestNetworksSubnetworksAndRoutes(t *testing.T) {
	c := start(t)
	p := "projects/" + c.Project
	wait(t, c)(c.Compute.Networks.Insert(c.Project, newNetwork("net", customMode)).Do())
	wait(t, c)(c.Compute.Subnetworks.Insert(c.Project, region, newSubnetwork("sub", "net", "10.10.0.0/24")).Do())

	n, err := c.Compute.Networks.Get(c.Project, "net").Do()
	if err != nil {
		t.Fatal(err)
	}
	if n.AutoCreateSubnetworks || !cmp.Equal([]string{link(p + "/regions/" + region + "/subnetworks/sub")}, n.Subnetworks) {
		t.Errorf("custom network auto=%v subnetworks %v, want custom with [sub]", n.AutoCreateSubnetworks, n.Subnetworks)
	}
	wait(t, c)(c.Compute.Networks.Patch(c.Project, "net", &compute.Network{
		RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "GLOBAL"}}).Do())
	if n, err = c.Compute.Networks.Get(c.Project, "net").Do(); err != nil || n.RoutingConfig.RoutingMode != "GLOBAL" {
		t.Errorf("routing mode after patch = %+v (%v), want GLOBAL", n.RoutingConfig, err)
	}

	sub, err := c.Compute.Subnetworks.Get(c.Project, region, "sub").Do()
	if err != nil {
		t.Fatal(err)
	}
	if sub.GatewayAddress != "10.10.0.1" || sub.Fingerprint == "" || sub.Network != link(p+"/global/networks/net") {
		t.Errorf("subnetwork gateway %q fingerprint %q network %q", sub.GatewayAddress, sub.Fingerprint, sub.Network)
	}
	wait(t, c)(c.Compute.Subnetworks.Patch(c.Project, region, "sub", &compute.Subnetwork{
		Description: "nodes", Fingerprint: sub.Fingerprint}).Do())
	subs, err := c.Compute.Subnetworks.List(c.Project, region).Do()
	if err != nil || len(subs.Items) != 1 || subs.Items[0].Description != "nodes" {
		t.Errorf("subnetworks after patch = %+v (%v), want sub described as nodes", subs, err)
	}

	route := &compute.Route{Name: "pods", Network: "global/networks/net", DestRange: "10.244.1.0/24",
		NextHopIp: "10.10.0.9", Priority: 900}
	wait(t, c)(c.Compute.Routes.Insert(c.Project, route).Do())
	r, err := c.Compute.Routes.Get(c.Project, "pods").Do()
	if err != nil || r.NextHopIp != "10.10.0.9" || r.Priority != 900 || r.Network != link(p+"/global/networks/net") {
		t.Errorf("route = %+v (%v)", r, err)
	}
	routes, err := c.Compute.Routes.List(c.Project).Filter(`destRange = "10.244.1.0/24"`).Do()
	if err != nil || len(routes.Items) != 1 {
		t.Errorf("routes to 10.244.1.0/24 = %v (%v), want [pods]", routeNames(routes.Items), err)
	}
	wait(t, c)(c.Compute.Routes.Delete(c.Project, "pods").Do())
	wait(t, c)(c.Compute.Subnetworks.Delete(c.Project, region, "sub").Do())
	wait(t, c)(c.Compute.Networks.Delete(c.Project, "net").Do())
	left, err := c.Compute.Routes.List(c.Project).Do()
	if err != nil || len(left.Items) != 0 {
		t.Errorf("routes after the network is gone = %v (%v), want none (its default route goes with it)", routeNames(left.Items), err)
	}
}

func TestAddressesAndForwardingRulesTakeLabelsAndTargets(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	lbSetup(t, c)
	insertTargetPool(t, c, newTargetPool("pool2", "vm"))
	a := insertAddress(t, c, "addr")
	wait(t, c)(c.Compute.Addresses.SetLabels(c.Project, region, "addr", &compute.RegionSetLabelsRequest{
		Labels: map[string]string{"cluster": "a"}, LabelFingerprint: a.LabelFingerprint}).Do())
	a2, err := c.Compute.Addresses.Get(c.Project, region, "addr").Do()
	if err != nil || a2.Labels["cluster"] != "a" || a2.LabelFingerprint == a.LabelFingerprint {
		t.Errorf("address labels %v fingerprint %q (was %q) %v", a2.Labels, a2.LabelFingerprint, a.LabelFingerprint, err)
	}

	frs := c.Compute.ForwardingRules
	wait(t, c)(frs.SetTarget(c.Project, region, "fr", &compute.TargetReference{Target: "regions/" + region + "/targetPools/pool2"}).Do())
	fr, err := frs.Get(c.Project, region, "fr").Do()
	if err != nil || fr.Target != link("projects/"+c.Project+"/regions/"+region+"/targetPools/pool2") {
		t.Errorf("target after setTarget = %q (%v), want pool2", fr.Target, err)
	}
	// The old pool is no longer in use and can go.
	wait(t, c)(c.Compute.TargetPools.Delete(c.Project, region, "pool").Do())
	wait(t, c)(frs.SetLabels(c.Project, region, "fr", &compute.RegionSetLabelsRequest{
		Labels: map[string]string{"svc": "web"}, LabelFingerprint: fr.LabelFingerprint}).Do())
	fr, err = frs.Get(c.Project, region, "fr").Do()
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c)(frs.Patch(c.Project, region, "fr", &compute.ForwardingRule{Description: "lb", Fingerprint: fr.Fingerprint}).Do())
	fr, err = frs.Get(c.Project, region, "fr").Do()
	if err != nil || fr.Description != "lb" || fr.Labels["svc"] != "web" {
		t.Errorf("forwarding rule after patch: description %q labels %v (%v)", fr.Description, fr.Labels, err)
	}
}

func TestTargetPoolMembersAndHealth(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertInstance(t, c, newInstance("vm1"))
	insertInstance(t, c, newInstance("vm2"))
	insertHTTPHealthCheck(t, c, "hc")
	insertTargetPool(t, c, newTargetPool("pool", "vm1"))
	tps := c.Compute.TargetPools
	inst := func(n string) string { return link("projects/" + c.Project + "/zones/" + zone + "/instances/" + n) }

	wait(t, c)(tps.AddInstance(c.Project, region, "pool", &compute.TargetPoolsAddInstanceRequest{
		Instances: []*compute.InstanceReference{{Instance: "zones/" + zone + "/instances/vm2"}}}).Do())
	wait(t, c)(tps.RemoveInstance(c.Project, region, "pool", &compute.TargetPoolsRemoveInstanceRequest{
		Instances: []*compute.InstanceReference{{Instance: inst("vm1")}}}).Do())
	wait(t, c)(tps.AddHealthCheck(c.Project, region, "pool", &compute.TargetPoolsAddHealthCheckRequest{
		HealthChecks: []*compute.HealthCheckReference{{HealthCheck: "global/httpHealthChecks/hc"}}}).Do())
	tp, err := tps.Get(c.Project, region, "pool").Do()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{inst("vm2"), link("projects/" + c.Project + "/global/httpHealthChecks/hc")}
	if diff := cmp.Diff(want, append(tp.Instances, tp.HealthChecks...)); diff != "" {
		t.Errorf("pool members and health checks (-want +got):\n%s", diff)
	}
	_, err = tps.AddInstance(c.Project, region, "pool", &compute.TargetPoolsAddInstanceRequest{
		Instances: []*compute.InstanceReference{{Instance: inst("vm2")}}}).Do()
	if code, _ := apiError(t, err); code != 400 {
		t.Errorf("adding a member twice = %d, want 400", code)
	}

	wait(t, c)(c.Compute.ForwardingRules.Insert(c.Project, region, newForwardingRule("fr", "pool")).Do())
	h, err := tps.GetHealth(c.Project, region, "pool", &compute.InstanceReference{Instance: inst("vm2")}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.HealthStatus) != 1 || h.HealthStatus[0].HealthState != "HEALTHY" || h.HealthStatus[0].Instance != inst("vm2") || h.HealthStatus[0].IpAddress == "" {
		t.Errorf("health = %+v, want vm2 HEALTHY at the rule's address", h.HealthStatus)
	}
	wait(t, c)(c.Compute.Instances.Stop(c.Project, zone, "vm2").Do())
	if h, err = tps.GetHealth(c.Project, region, "pool", &compute.InstanceReference{Instance: inst("vm2")}).Do(); err != nil ||
		h.HealthStatus[0].HealthState != "UNHEALTHY" {
		t.Errorf("health of a stopped instance = %+v (%v), want UNHEALTHY", h, err)
	}

	wait(t, c)(tps.RemoveHealthCheck(c.Project, region, "pool", &compute.TargetPoolsRemoveHealthCheckRequest{
		HealthChecks: []*compute.HealthCheckReference{{HealthCheck: "global/httpHealthChecks/hc"}}}).Do())
	wait(t, c)(c.Compute.HttpHealthChecks.Delete(c.Project, "hc").Do())
}

func TestHealthChecksOfEveryScope(t *testing.T) {
	c := start(t)
	t.Run("an HTTP health check gets port 80 and path /, and can be updated and patched", func(t *testing.T) {
		insertHTTPHealthCheck(t, c, "http")
		hc, err := c.Compute.HttpHealthChecks.Get(c.Project, "http").Do()
		if err != nil || hc.Port != 80 || hc.RequestPath != "/" || hc.CheckIntervalSec != 5 {
			t.Fatalf("http health check = %+v (%v)", hc, err)
		}
		hc.RequestPath = "/healthz"
		wait(t, c)(c.Compute.HttpHealthChecks.Update(c.Project, "http", hc).Do())
		wait(t, c)(c.Compute.HttpHealthChecks.Patch(c.Project, "http", &compute.HttpHealthCheck{Port: 10256}).Do())
		hc, err = c.Compute.HttpHealthChecks.Get(c.Project, "http").Do()
		if err != nil || hc.RequestPath != "/healthz" || hc.Port != 10256 {
			t.Errorf("after update and patch = %q :%d (%v), want /healthz :10256", hc.RequestPath, hc.Port, err)
		}
	})
	t.Run("a global health check takes its type's defaults", func(t *testing.T) {
		wait(t, c)(c.Compute.HealthChecks.Insert(c.Project, &compute.HealthCheck{Name: "g", Type: "HTTP",
			HttpHealthCheck: &compute.HTTPHealthCheck{Port: 8080}}).Do())
		hc, err := c.Compute.HealthChecks.Get(c.Project, "g").Do()
		if err != nil || hc.HttpHealthCheck.RequestPath != "/" || hc.HttpHealthCheck.ProxyHeader != "NONE" || hc.TimeoutSec != 5 {
			t.Errorf("health check = %+v (%v)", hc.HttpHealthCheck, err)
		}
		list, err := c.Compute.HealthChecks.List(c.Project).Do()
		if err != nil || len(list.Items) != 1 {
			t.Errorf("global health checks = %d (%v), want 1", len(list.Items), err)
		}
		wait(t, c)(c.Compute.HealthChecks.Delete(c.Project, "g").Do())
	})
	t.Run("a regional health check lives in its region", func(t *testing.T) {
		insertRegionHealthCheck(t, c, "r")
		hc, err := c.Compute.RegionHealthChecks.Get(c.Project, region, "r").Do()
		if err != nil || hc.Region != link("projects/"+c.Project+"/regions/"+region) || hc.TcpHealthCheck.Port != 10256 {
			t.Errorf("regional health check = %+v (%v)", hc, err)
		}
		if _, err := c.Compute.HealthChecks.Get(c.Project, "r").Do(); !isCode(t, err, 404) {
			t.Errorf("the regional check as a global one: %v, want 404", err)
		}
		wait(t, c)(c.Compute.RegionHealthChecks.Delete(c.Project, region, "r").Do())
	})
}

func TestInstanceGroupsAndBackendServiceHealth(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertInstance(t, c, newInstance("vm1"))
	insertInstance(t, c, newInstance("vm2"))
	lbSetup(t, c)
	igs := c.Compute.InstanceGroups
	inst := func(n string) string { return link("projects/" + c.Project + "/zones/" + zone + "/instances/" + n) }

	wait(t, c)(igs.AddInstances(c.Project, zone, "ig", &compute.InstanceGroupsAddInstancesRequest{
		Instances: []*compute.InstanceReference{{Instance: inst("vm1")}, {Instance: "zones/" + zone + "/instances/vm2"}}}).Do())
	wait(t, c)(igs.SetNamedPorts(c.Project, zone, "ig", &compute.InstanceGroupsSetNamedPortsRequest{
		NamedPorts: []*compute.NamedPort{{Name: "http", Port: 30080}}}).Do())
	wait(t, c)(igs.RemoveInstances(c.Project, zone, "ig", &compute.InstanceGroupsRemoveInstancesRequest{
		Instances: []*compute.InstanceReference{{Instance: inst("vm2")}}}).Do())

	members, err := igs.ListInstances(c.Project, zone, "ig", &compute.InstanceGroupsListInstancesRequest{InstanceState: "ALL"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range members.Items {
		got = append(got, lastSegment(m.Instance)+" "+m.Status)
	}
	if diff := cmp.Diff([]string{"vm1 RUNNING"}, got); diff != "" {
		t.Errorf("group members (-want +got):\n%s", diff)
	}
	g, err := igs.Get(c.Project, zone, "ig").Do()
	if err != nil || g.Size != 1 || len(g.NamedPorts) != 1 || g.NamedPorts[0].Port != 30080 || g.Network == "" {
		t.Errorf("group = size %d ports %v network %q (%v)", g.Size, g.NamedPorts, g.Network, err)
	}

	h, err := c.Compute.RegionBackendServices.GetHealth(c.Project, region, "bs", &compute.ResourceGroupReference{
		Group: "zones/" + zone + "/instanceGroups/ig"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.HealthStatus) != 1 || h.HealthStatus[0].Instance != inst("vm1") || h.HealthStatus[0].HealthState != "HEALTHY" {
		t.Errorf("backend health = %+v, want vm1 HEALTHY", h.HealthStatus)
	}
	bss, err := c.Compute.RegionBackendServices.List(c.Project, region).Do()
	if err != nil || len(bss.Items) != 1 || bss.Items[0].SessionAffinity != "NONE" {
		t.Errorf("backend services = %+v (%v)", bss, err)
	}
}

func TestInstancesTagsLabelsMetadataAndPower(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	vm := insertInstance(t, c, newInstance("vm", withExternalIP, withTags("a")))
	ins := c.Compute.Instances

	wait(t, c)(ins.SetTags(c.Project, zone, "vm", &compute.Tags{Items: []string{"a", "b"}, Fingerprint: vm.Tags.Fingerprint}).Do())
	wait(t, c)(ins.SetLabels(c.Project, zone, "vm", &compute.InstancesSetLabelsRequest{
		Labels: map[string]string{"role": "node"}, LabelFingerprint: vm.LabelFingerprint}).Do())
	v := "on"
	wait(t, c)(ins.SetMetadata(c.Project, zone, "vm", &compute.Metadata{Fingerprint: vm.Metadata.Fingerprint,
		Items: []*compute.MetadataItems{{Key: "feature", Value: &v}}}).Do())
	got, err := ins.Get(c.Project, zone, "vm").Do()
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal([]string{"a", "b"}, got.Tags.Items) || got.Labels["role"] != "node" ||
		len(got.Metadata.Items) != 1 || *got.Metadata.Items[0].Value != "on" {
		t.Errorf("instance tags %v labels %v metadata %+v", got.Tags.Items, got.Labels, got.Metadata.Items)
	}
	if got.Tags.Fingerprint == vm.Tags.Fingerprint || got.Metadata.Fingerprint == vm.Metadata.Fingerprint || got.LabelFingerprint == vm.LabelFingerprint {
		t.Errorf("fingerprints did not change with their values")
	}

	wait(t, c)(ins.Stop(c.Project, zone, "vm").Do())
	stopped, err := ins.Get(c.Project, zone, "vm").Do()
	if err != nil || stopped.Status != "TERMINATED" || stopped.NetworkInterfaces[0].AccessConfigs[0].NatIP != "" {
		t.Errorf("stopped instance = %s natIP %q (%v), want TERMINATED without its ephemeral address",
			stopped.Status, stopped.NetworkInterfaces[0].AccessConfigs[0].NatIP, err)
	}
	wait(t, c)(ins.Start(c.Project, zone, "vm").Do())
	started, err := ins.Get(c.Project, zone, "vm").Do()
	if err != nil || started.Status != "RUNNING" || started.NetworkInterfaces[0].AccessConfigs[0].NatIP == "" {
		t.Errorf("started instance = %s natIP %q (%v), want RUNNING with a new address",
			started.Status, started.NetworkInterfaces[0].AccessConfigs[0].NatIP, err)
	}
	list, err := ins.List(c.Project, zone).Do()
	if err != nil || len(list.Items) != 1 {
		t.Errorf("instances = %d (%v), want 1", len(list.Items), err)
	}

	wait(t, c)(ins.Delete(c.Project, zone, "vm").Do())
	if _, err := c.Compute.Disks.Get(c.Project, zone, "vm").Do(); !isCode(t, err, 404) {
		t.Errorf("auto-delete boot disk after the instance is gone: %v, want 404", err)
	}
}

func firewallNames(fws []*compute.Firewall) []string {
	var out []string
	for _, f := range fws {
		out = append(out, f.Name)
	}
	return out
}

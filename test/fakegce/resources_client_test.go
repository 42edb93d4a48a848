package fakegce_test

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// apiTimestamp is the form of every creationTimestamp the API sends:
// RFC 3339 with milliseconds and a numeric offset (2024-04-01T05:34:56.123-07:00).
var apiTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$`)

func TestResourcesAreRenderedInTheAPIsWireFormat(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertFirewall(t, c, newFirewall("fw"))
	insertInstance(t, c, newInstance("vm"))
	p := "projects/" + c.Project
	tests := []struct {
		name     string
		path     string
		kind     string
		selfLink string
		// stringInts are int64/uint64 fields that must be JSON strings.
		stringInts []string
	}{
		{"a network", "global/networks/default", "compute#network", p + "/global/networks/default", []string{"id"}},
		{"a firewall", "global/firewalls/fw", "compute#firewall", p + "/global/firewalls/fw", []string{"id"}},
		{"an instance", "zones/" + zone + "/instances/vm", "compute#instance", p + "/zones/" + zone + "/instances/vm", []string{"id"}},
		{"a disk", "zones/" + zone + "/disks/vm", "compute#disk", p + "/zones/" + zone + "/disks/vm", []string{"id", "sizeGb", "sourceImageId"}},
		{"a subnetwork", "regions/" + region + "/subnetworks/default", "compute#subnetwork", p + "/regions/" + region + "/subnetworks/default", []string{"id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" has a string id, kind, full selfLink and an RFC 3339 timestamp", func(t *testing.T) {
			code, obj := rawJSON(t, c, "GET", computePath(c, tt.path), nil)
			if code != 200 {
				t.Fatalf("GET %s = %d %v", tt.path, code, obj)
			}
			if obj["kind"] != tt.kind {
				t.Errorf("kind = %v, want %s", obj["kind"], tt.kind)
			}
			if obj["selfLink"] != link(tt.selfLink) {
				t.Errorf("selfLink = %v, want %s", obj["selfLink"], link(tt.selfLink))
			}
			ts, _ := obj["creationTimestamp"].(string)
			if !apiTimestamp.MatchString(ts) {
				t.Errorf("creationTimestamp = %q, want RFC 3339 with milliseconds and an offset", ts)
			}
			for _, f := range tt.stringInts {
				s, ok := obj[f].(string)
				if !ok || s == "" || strings.Trim(s, "0123456789") != "" {
					t.Errorf("%s = %#v, want a decimal number in a JSON string", f, obj[f])
				}
			}
		})
	}
	t.Run("an operation's targetId and id are strings", func(t *testing.T) {
		code, op := rawJSON(t, c, "POST", computePath(c, "global/firewalls"),
			map[string]any{"name": "fw2", "allowed": []any{map[string]any{"IPProtocol": "tcp"}}})
		if code != 200 {
			t.Fatalf("insert = %d %v", code, op)
		}
		for _, f := range []string{"id", "targetId"} {
			if s, ok := op[f].(string); !ok || s == "" {
				t.Errorf("operation %s = %#v, want a JSON string", f, op[f])
			}
		}
		if !apiTimestamp.MatchString(op["insertTime"].(string)) {
			t.Errorf("insertTime = %v, want RFC 3339 with milliseconds", op["insertTime"])
		}
	})
}

func TestPartialURLsInRequestsAreStoredAsFullLinks(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	want := link("projects/" + c.Project + "/global/networks/default")
	for _, tt := range []struct {
		name, network string
	}{
		{"a project-relative URL", "projects/" + c.Project + "/global/networks/default"},
		{"a global-relative URL", "global/networks/default"},
		{"a compute.googleapis.com URL", "https://compute.googleapis.com/compute/v1/projects/" + c.Project + "/global/networks/default"},
		{"a full www.googleapis.com link", want},
	} {
		t.Run(tt.name+" names the network", func(t *testing.T) {
			name := "fw-" + strings.ToLower(strings.ReplaceAll(strings.Fields(tt.name)[1], ".", "-"))
			fw := newFirewall(name)
			fw.Network = tt.network
			insertFirewall(t, c, fw)
			got, err := c.Compute.Firewalls.Get(c.Project, name).Do()
			if err != nil {
				t.Fatal(err)
			}
			if got.Network != want {
				t.Errorf("network = %q, want %q", got.Network, want)
			}
		})
	}
	t.Run("a zone-relative instance URL in a target pool", func(t *testing.T) {
		insertInstance(t, c, newInstance("vm"))
		insertTargetPool(t, c, newTargetPool("pool", "vm"))
		tp, err := c.Compute.TargetPools.Get(c.Project, region, "pool").Do()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{link("projects/" + c.Project + "/zones/" + zone + "/instances/vm")}, tp.Instances); diff != "" {
			t.Errorf("target pool instances (-want +got):\n%s", diff)
		}
	})
}

func TestTheServerFillsItsDefaults(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertFirewall(t, c, newFirewall("fw"))
	vm := insertInstance(t, c, newInstance("vm", withExternalIP, withTags("web"), withMetadata("k", "v")))
	insertTargetPool(t, c, newTargetPool("pool", "vm"))
	wait(t, c)(c.Compute.ForwardingRules.Insert(c.Project, region, newForwardingRule("fr", "pool")).Do())

	t.Run("a firewall gets priority 1000, direction INGRESS and source 0.0.0.0/0", func(t *testing.T) {
		fw, err := c.Compute.Firewalls.Get(c.Project, "fw").Do()
		if err != nil {
			t.Fatal(err)
		}
		got := []any{fw.Priority, fw.Direction, fw.SourceRanges, fw.Disabled}
		if diff := cmp.Diff([]any{int64(1000), "INGRESS", []string{"0.0.0.0/0"}, false}, got); diff != "" {
			t.Errorf("firewall defaults (-want +got):\n%s", diff)
		}
	})
	t.Run("a target pool gets session affinity NONE", func(t *testing.T) {
		tp, err := c.Compute.TargetPools.Get(c.Project, region, "pool").Do()
		if err != nil || tp.SessionAffinity != "NONE" {
			t.Errorf("sessionAffinity = %q (%v), want NONE", tp.SessionAffinity, err)
		}
	})
	t.Run("a forwarding rule is EXTERNAL and PREMIUM with an address from the external range", func(t *testing.T) {
		fr, err := c.Compute.ForwardingRules.Get(c.Project, region, "fr").Do()
		if err != nil {
			t.Fatal(err)
		}
		if fr.LoadBalancingScheme != "EXTERNAL" || fr.NetworkTier != "PREMIUM" || !inRange(fr.IPAddress, "203.0.113.0/24") {
			t.Errorf("forwarding rule = %s %s %q, want EXTERNAL PREMIUM with an address in 203.0.113.0/24",
				fr.LoadBalancingScheme, fr.NetworkTier, fr.IPAddress)
		}
		if fr.PortRange != "80-80" || fr.Fingerprint == "" || fr.Region != link("projects/"+c.Project+"/regions/"+region) {
			t.Errorf("forwarding rule portRange %q fingerprint %q region %q", fr.PortRange, fr.Fingerprint, fr.Region)
		}
	})
	t.Run("an instance is RUNNING with an address of its subnetwork and fingerprints", func(t *testing.T) {
		nic := vm.NetworkInterfaces[0]
		if vm.Status != "RUNNING" || !inRange(nic.NetworkIP, "10.128.0.0/20") {
			t.Errorf("instance %s with networkIP %q, want RUNNING in 10.128.0.0/20", vm.Status, nic.NetworkIP)
		}
		if nic.Subnetwork != link("projects/"+c.Project+"/regions/"+region+"/subnetworks/default") {
			t.Errorf("subnetwork = %q, want the default network's subnetwork in %s", nic.Subnetwork, region)
		}
		if ac := nic.AccessConfigs; len(ac) != 1 || !inRange(ac[0].NatIP, "203.0.113.0/24") || ac[0].Type != "ONE_TO_ONE_NAT" {
			t.Errorf("access configs = %+v, want one ONE_TO_ONE_NAT with an external address", ac)
		}
		if vm.Tags.Fingerprint == "" || vm.Metadata.Fingerprint == "" || vm.LabelFingerprint == "" || vm.Fingerprint == "" {
			t.Errorf("fingerprints: tags %q metadata %q labels %q instance %q; want all set",
				vm.Tags.Fingerprint, vm.Metadata.Fingerprint, vm.LabelFingerprint, vm.Fingerprint)
		}
		if diff := cmp.Diff([]string{"web"}, vm.Tags.Items); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
	})
	t.Run("an instance's boot disk is a disk made from the source image", func(t *testing.T) {
		if len(vm.Disks) != 1 || !vm.Disks[0].Boot {
			t.Fatalf("disks = %+v, want one boot disk", vm.Disks)
		}
		d, err := c.Compute.Disks.Get(c.Project, zone, lastSegment(vm.Disks[0].Source)).Do()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(d.SourceImage, link("projects/debian-cloud/global/images/debian-12")) || d.SizeGb != 10 ||
			len(d.Users) != 1 || d.Users[0] != vm.SelfLink || d.Status != "READY" {
			t.Errorf("disk = image %q size %d users %v status %s; want the debian-12 image, 10 GB, used by the instance, READY",
				d.SourceImage, d.SizeGb, d.Users, d.Status)
		}
	})
	t.Run("a network gets its default route to the internet", func(t *testing.T) {
		routes, err := c.Compute.Routes.List(c.Project).Do()
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, r := range routes.Items {
			if r.Network == link("projects/"+c.Project+"/global/networks/default") && r.DestRange == "0.0.0.0/0" &&
				strings.HasSuffix(r.NextHopGateway, "/global/gateways/default-internet-gateway") {
				found = true
			}
		}
		if !found {
			t.Errorf("routes = %v, want a 0.0.0.0/0 route of network default to the internet gateway", routeNames(routes.Items))
		}
	})
}

func TestForwardingRulesShareAndReleaseReservedAddresses(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertInstance(t, c, newInstance("vm"))
	insertTargetPool(t, c, newTargetPool("pool", "vm"))
	addr := insertAddress(t, c, "lb-ip")
	if addr.Status != "RESERVED" || !inRange(addr.Address, "203.0.113.0/24") || addr.AddressType != "EXTERNAL" {
		t.Fatalf("new address = %s %q %s, want RESERVED EXTERNAL in the external range", addr.Status, addr.Address, addr.AddressType)
	}
	frs := c.Compute.ForwardingRules
	wait(t, c)(frs.Insert(c.Project, region, newForwardingRule("tcp", "pool", withIP(addr.Address), withProtocol("TCP", "80"))).Do())
	// A rule may name the address by URL rather than by IP.
	wait(t, c)(frs.Insert(c.Project, region, newForwardingRule("udp", "pool",
		withIP("regions/"+region+"/addresses/lb-ip"), withProtocol("UDP", "80"))).Do())

	t.Run("both rules hold the reserved address", func(t *testing.T) {
		for _, n := range []string{"tcp", "udp"} {
			fr, err := frs.Get(c.Project, region, n).Do()
			if err != nil || fr.IPAddress != addr.Address {
				t.Errorf("rule %s IPAddress = %q (%v), want %s", n, fr.IPAddress, err, addr.Address)
			}
		}
	})
	t.Run("the address is IN_USE by both", func(t *testing.T) {
		a, err := c.Compute.Addresses.Get(c.Project, region, "lb-ip").Do()
		if err != nil {
			t.Fatal(err)
		}
		p := "projects/" + c.Project + "/regions/" + region + "/forwardingRules/"
		want := []string{link(p + "tcp"), link(p + "udp")}
		if a.Status != "IN_USE" || !cmp.Equal(want, sorted(a.Users)) {
			t.Errorf("address = %s users %v, want IN_USE by %v", a.Status, a.Users, want)
		}
	})
	t.Run("a third rule with the same protocol and port is refused", func(t *testing.T) {
		_, err := frs.Insert(c.Project, region, newForwardingRule("tcp2", "pool", withIP(addr.Address), withProtocol("TCP", "80"))).Do()
		if code, reason := apiError(t, err); code != 400 || reason != "invalid" {
			t.Errorf("conflicting rule = %d %s, want 400 invalid", code, reason)
		}
	})
	t.Run("the address is RESERVED again when its rules are gone", func(t *testing.T) {
		wait(t, c)(frs.Delete(c.Project, region, "tcp").Do())
		wait(t, c)(frs.Delete(c.Project, region, "udp").Do())
		a, err := c.Compute.Addresses.Get(c.Project, region, "lb-ip").Do()
		if err != nil || a.Status != "RESERVED" || len(a.Users) != 0 {
			t.Errorf("address = %s users %v (%v), want RESERVED without users", a.Status, a.Users, err)
		}
		wait(t, c)(c.Compute.Addresses.Delete(c.Project, region, "lb-ip").Do())
	})
}

func inRange(ip, cidr string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && netip.MustParsePrefix(cidr).Contains(a)
}

func routeNames(rs []*compute.Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// TestEveryRenderedFieldHasItsSchemaType builds one of each resource the
// fake serves and checks all of them, and their operations, against the
// discovery document: int64/uint64 as strings, no field the API lacks.
func TestEveryRenderedFieldHasItsSchemaType(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	lbSetup(t, c)
	insertInstance(t, c, newInstance("vm-ext", withExternalIP, withTags("web"), withMetadata("k", "v")))
	wait(t, c)(c.Compute.InstanceGroups.AddInstances(c.Project, zone, "ig", &compute.InstanceGroupsAddInstancesRequest{
		Instances: []*compute.InstanceReference{{Instance: "zones/" + zone + "/instances/vm-ext"}}}).Do())
	insertFirewall(t, c, newFirewall("fw", withTargetTags("web")))
	insertHTTPHealthCheck(t, c, "http")
	wait(t, c)(c.Compute.HealthChecks.Insert(c.Project, &compute.HealthCheck{Name: "g", Type: "HTTP"}).Do())
	insertAddress(t, c, "addr")
	wait(t, c)(c.Compute.Networks.Insert(c.Project, newNetwork("custom", customMode)).Do())
	wait(t, c)(c.Compute.Subnetworks.Insert(c.Project, region, newSubnetwork("sub", "custom", "10.10.0.0/24")).Do())
	wait(t, c)(c.Compute.Routes.Insert(c.Project, &compute.Route{Name: "r", Network: "global/networks/default",
		DestRange: "10.99.0.0/16", NextHopInstance: "zones/" + zone + "/instances/vm"}).Do())
	wait(t, c)(c.Compute.Addresses.Insert(c.Project, region, &compute.Address{Name: "internal", AddressType: "INTERNAL",
		Subnetwork: "regions/" + region + "/subnetworks/sub"}).Do())
	if errs := withoutRecordedExtras(fakegce.WireTypeErrors(c.Server)); len(errs) > 0 {
		t.Errorf("rendered resources that do not match the discovery document:\n%s", strings.Join(errs, "\n"))
	}
}

func TestEveryAnswerThatIsNotStoredHasItsSchemaType(t *testing.T) {
	c := start(t, withQuota("FIREWALLS", 10))
	defaultNetwork(t, c)
	lbSetup(t, c)
	insertFirewall(t, c, newFirewall("fw"))
	wait(t, c)(c.Compute.InstanceGroups.AddInstances(c.Project, zone, "ig", &compute.InstanceGroupsAddInstancesRequest{
		Instances: []*compute.InstanceReference{{Instance: "zones/" + zone + "/instances/vm"}}}).Do())
	p := "projects/" + c.Project
	tests := []struct {
		name, method, path, schema string
		body                       any
	}{
		{"projects.get", "GET", "", "Project", nil},
		{"regions.get", "GET", "/regions/" + region, "Region", nil},
		{"regions.list", "GET", "/regions", "RegionList", nil},
		{"zones.get", "GET", "/zones/" + zone, "Zone", nil},
		{"zones.list", "GET", "/zones", "ZoneList", nil},
		{"machineTypes.get", "GET", "/zones/" + zone + "/machineTypes/e2-medium", "MachineType", nil},
		{"firewalls.list", "GET", "/global/firewalls", "FirewallList", nil},
		{"instances.aggregatedList", "GET", "/aggregated/instances", "InstanceAggregatedList", nil},
		{"backendServices.aggregatedList", "GET", "/aggregated/backendServices", "BackendServiceAggregatedList", nil},
		{"globalOperations.list", "GET", "/global/operations", "OperationList", nil},
		{"targetPools.getHealth", "POST", "/regions/" + region + "/targetPools/pool/getHealth", "TargetPoolInstanceHealth",
			map[string]any{"instance": "zones/" + zone + "/instances/vm"}},
		{"regionBackendServices.getHealth", "POST", "/regions/" + region + "/backendServices/bs/getHealth", "BackendServiceGroupHealth",
			map[string]any{"group": "zones/" + zone + "/instanceGroups/ig"}},
		{"instanceGroups.listInstances", "POST", "/zones/" + zone + "/instanceGroups/ig/listInstances", "InstanceGroupsListInstances",
			map[string]any{"instanceState": "ALL"}},
		{"images.getFromFamily", "GET", "projects/debian-cloud/global/images/family/debian-12", "Image", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+" answers a "+tt.schema, func(t *testing.T) {
			path := "/compute/v1/" + p + tt.path
			if strings.HasPrefix(tt.path, "projects/") {
				path = "/compute/v1/" + tt.path
			}
			code, obj := rawJSON(t, c, tt.method, path, tt.body)
			if code != 200 {
				t.Fatalf("%s %s = %d %v", tt.method, tt.path, code, obj)
			}
			raw, _ := json.Marshal(obj)
			if errs := withoutRecordedExtras(fakegce.SchemaErrors(tt.schema, raw, tt.name)); len(errs) > 0 {
				t.Errorf("answer does not match the discovery document:\n%s", strings.Join(errs, "\n"))
			}
		})
	}
}

// withoutRecordedExtras drops the mismatches the real API has too: it still
// answers a firewall's deprecated enableLogging, which the discovery document
// no longer lists (see the computefirewall recording).
func withoutRecordedExtras(errs []string) []string {
	var out []string
	for _, e := range errs {
		if strings.Contains(e, "firewall") && strings.HasSuffix(e, ".enableLogging: the schema has no such field") {
			continue
		}
		out = append(out, e)
	}
	return out
}

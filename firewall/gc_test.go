package firewall_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

func TestCollectGarbageDeletesTheRulesOfDeadServicesOnly(t *testing.T) {
	cloud, c := startCloud(t)
	const deadUID = "dead0000-0000-4000-8000-000000000000"
	staging := ownership.ForCluster("staging")
	var (
		live         = newRule("web", webUID)
		dead         = newRule("gone", deadUID)
		deadHC       = newRule("gone-hc", deadUID, withPorts("tcp", "10256"))
		noService    = newRule("cluster-wide", "", withDescription(owner.Description(nil)))
		noMarker     = newRule("lookalike", deadUID, withDescription(`{"cloud-provider-vpc.io/service-uid":"`+deadUID+`"}`))
		handMade     = newRule("x", deadUID, foreign())
		otherCluster = firewall.Rule{Name: staging.ResourceName("fw", "gone"), Network: defaultNetwork,
			Allowed:     []firewall.Allow{{Protocol: "tcp", Ports: []string{"80"}}},
			Description: staging.Description(map[string]string{ownership.ServiceUIDKey: deadUID})}
	)
	handMade.Name = "allow-ssh"
	for _, r := range rules(live, dead, deadHC, noService, noMarker, handMade, otherCluster) {
		insertDirect(t, cloud, r)
	}
	cloud.Server.ResetCalls()

	var asked []firewall.RuleService
	isLive := func(s firewall.RuleService) bool {
		asked = append(asked, s)
		return s.UID == webUID
	}
	deleted, err := firewall.CollectGarbage(context.Background(), c, owner, defaultNetwork, isLive)
	if err != nil {
		t.Fatalf("CollectGarbage: %v", err)
	}
	// Each rule of the cluster's names its Service by UID and by key.
	wantAsked := []firewall.RuleService{{UID: deadUID, Key: "default/gone"}, {UID: deadUID, Key: "default/gone-hc"}, {UID: webUID, Key: "default/web"}}
	if diff := cmp.Diff(wantAsked, asked, cmpopts.SortSlices(func(a, b firewall.RuleService) bool { return a.Key < b.Key })); diff != "" {
		t.Errorf("live was asked about (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{dead.Name, deadHC.Name}, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if got := calls(cloud); got["list"] != 1 || got["delete"] != 2 || got["patch"] != 0 || got["insert"] != 0 {
		t.Errorf("calls %v, want one list and two deletes", got)
	}
	for _, r := range rules(dead, deadHC) {
		if exists(t, cloud, r.Name) {
			t.Errorf("%s of a dead Service still exists", r.Name)
		}
	}
	for _, r := range rules(live, noService, noMarker, handMade, otherCluster) {
		wantStored(t, cloud, r)
	}

	// A second pass finds nothing more to do.
	cloud.Server.ResetCalls()
	deleted, err = firewall.CollectGarbage(context.Background(), c, owner, defaultNetwork, isLive)
	if err != nil || len(deleted) != 0 || mutatingCalls(cloud) != 0 {
		t.Errorf("second pass: deleted %v, err %v, %d mutating calls; want nothing", deleted, err, mutatingCalls(cloud))
	}
}

// A cluster of the same name on another network of the project (or on
// another Shared VPC network of the host project) has rules with the same
// marker; its Services are not this cluster's, so its rules look dead here.
// Only the rules on the cluster's own network are this cluster's to collect.
func TestCollectGarbageLeavesTheRulesOfOtherNetworksAlone(t *testing.T) {
	cloud, c := startCloud(t)
	const deadUID = "dead0000-0000-4000-8000-000000000000"
	var (
		here        = newRule("gone", deadUID)
		otherVPC    = newRule("twin", deadUID, withNetwork(otherNetwork))
		partialHere = newRule("gone-partial", deadUID, withNetwork("projects/fake-project/global/networks/default"))
	)
	for _, r := range rules(here, otherVPC, partialHere) {
		insertDirect(t, cloud, r)
	}
	cloud.Server.ResetCalls()

	// The cluster's network as the config builds it: another base URL than
	// the one the API returns, same project and name.
	network := "https://compute.example.test/compute/v1/projects/fake-project/global/networks/default"
	deleted, err := firewall.CollectGarbage(context.Background(), c, owner, network, func(firewall.RuleService) bool { return false })
	if err != nil {
		t.Fatalf("CollectGarbage: %v", err)
	}
	if diff := cmp.Diff([]string{here.Name, partialHere.Name}, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	wantStored(t, cloud, otherVPC)
}

func TestCollectGarbageRefusesAClusterWithoutName(t *testing.T) {
	cloud, c := startCloud(t)
	if _, err := firewall.CollectGarbage(context.Background(), c, ownership.Cluster{}, defaultNetwork, func(firewall.RuleService) bool { return false }); err == nil {
		t.Error("CollectGarbage with the zero Cluster: no error")
	}
	if _, err := firewall.CollectGarbage(context.Background(), c, owner, "", func(firewall.RuleService) bool { return false }); err == nil {
		t.Error("CollectGarbage without a network: no error")
	}
	if got := len(cloud.Server.Calls()); got != 0 {
		t.Errorf("%d calls, want none", got)
	}
}

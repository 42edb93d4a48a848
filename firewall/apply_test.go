package firewall_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// startCloud runs fake-gce with the networks "default" and "other", and a
// client that does not retry, so that an injected fault reaches Apply.
func startCloud(t *testing.T) (*fakegcetest.Cloud, *computeclient.Client) {
	t.Helper()
	cloud := fakegcetest.Start(t, fakegce.Config{})
	for _, name := range []string{"default", "other"} {
		fixture.InsertNetwork(t, cloud, cloud.Project, fixture.AutoNetwork(name))
	}
	c, err := computeclient.New(context.Background(), computeclient.Config{
		Project: cloud.Project, Endpoint: cloud.Endpoint, HTTPClient: cloud.HTTP.Client(),
		QPS: 1000, Burst: 1000, MaxRetries: 0, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cloud.Server.ResetCalls()
	return cloud, c
}

// calls counts the requests of each firewall method since the last reset,
// keyed by the method's last word ("insert", "list", ...).
func calls(cloud *fakegcetest.Cloud) map[string]int {
	n := map[string]int{}
	for _, c := range cloud.Server.Calls() {
		if verb, ok := strings.CutPrefix(c.API, "compute.firewalls."); ok {
			n[verb]++
		}
	}
	return n
}

func mutatingCalls(cloud *fakegcetest.Cloud) int {
	n := calls(cloud)
	return n["insert"] + n["patch"] + n["update"] + n["delete"]
}

// reconcile is one pass as a caller makes it: observe, diff, apply.
func reconcile(t *testing.T, c *computeclient.Client, desired []firewall.Rule, scope firewall.Scope) (firewall.Plan, error) {
	t.Helper()
	fws, err := c.ListFirewalls(context.Background(), owner.NamePattern())
	if err != nil {
		t.Fatalf("list firewalls: %v", err)
	}
	plan := firewall.Diff(desired, fws, owner, scope)
	return plan, firewall.Apply(context.Background(), c, plan)
}

func mustReconcile(t *testing.T, c *computeclient.Client, desired []firewall.Rule, scope firewall.Scope) firewall.Plan {
	t.Helper()
	plan, err := reconcile(t, c, desired, scope)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return plan
}

// insertDirect creates a rule behind the package's back, as a user or an
// earlier, interrupted reconcile would have.
func insertDirect(t *testing.T, cloud *fakegcetest.Cloud, r firewall.Rule) {
	t.Helper()
	op, err := cloud.Compute.Firewalls.Insert(cloud.Project, r.Firewall()).Do()
	if err == nil {
		op, err = cloud.WaitOperation(context.Background(), op)
	}
	if err != nil || op.Error != nil {
		t.Fatalf("insert firewall %s: %v", r.Name, err)
	}
}

func get(t *testing.T, cloud *fakegcetest.Cloud, name string) *compute.Firewall {
	t.Helper()
	fw, err := cloud.Compute.Firewalls.Get(cloud.Project, name).Do()
	if err != nil {
		t.Fatalf("get firewall %s: %v", name, err)
	}
	return fw
}

func exists(t *testing.T, cloud *fakegcetest.Cloud, name string) bool {
	t.Helper()
	_, err := cloud.Compute.Firewalls.Get(cloud.Project, name).Do()
	if err != nil && !computeclient.IsNotFound(err) {
		t.Fatalf("get firewall %s: %v", name, err)
	}
	return err == nil
}

// wantStored checks that the API holds r, compared in normal form.
func wantStored(t *testing.T, cloud *fakegcetest.Cloud, r firewall.Rule) {
	t.Helper()
	got := firewall.Normalize(firewall.FromFirewall(get(t, cloud, r.Name)))
	want := firewall.Normalize(r)
	got.Network = strings.TrimPrefix(got.Network, "https://www.googleapis.com/compute/v1/")
	want.Network = strings.TrimPrefix(want.Network, "https://www.googleapis.com/compute/v1/")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored rule %s (-want +got):\n%s", r.Name, diff)
	}
}

func TestApplyCreatesResyncsUpdatesAndDeletes(t *testing.T) {
	cloud, c := startCloud(t)
	scope := firewall.ForService(webUID)
	web := newRule("web", webUID, withSourceRanges("10.0.0.0/8", "192.168.0.0/16"), withPorts("tcp", "80", "81", "443"))
	health := newRule("web-hc", webUID, withSourceRanges("35.191.0.0/16", "130.211.0.0/22"), withPorts("tcp", "10256"))

	// Create.
	mustReconcile(t, c, rules(web, health), scope)
	if got := calls(cloud)["insert"]; got != 2 {
		t.Errorf("create: %d inserts, want 2", got)
	}
	wantStored(t, cloud, web)
	wantStored(t, cloud, health)

	// Resync, with the desired rules written in another order: no mutating call.
	cloud.Server.ResetCalls()
	reordered := newRule("web", webUID, withSourceRanges("192.168.0.0/16", "10.0.0.0/8"), withPorts("tcp", "443", "80-81"))
	plan := mustReconcile(t, c, rules(health, reordered), scope)
	if !plan.Empty() {
		t.Errorf("resync plan is not empty: %+v", plan)
	}
	if got := mutatingCalls(cloud); got != 0 {
		t.Errorf("resync made %d mutating calls, want 0 (calls: %v)", got, calls(cloud))
	}

	// Update: a narrower source range and one more port.
	cloud.Server.ResetCalls()
	updated := newRule("web", webUID, withSourceRanges("10.0.0.0/8"), withPorts("tcp", "80", "81", "443", "8443"))
	mustReconcile(t, c, rules(updated, health), scope)
	if got := calls(cloud); got["patch"] != 1 || mutatingCalls(cloud) != 1 {
		t.Errorf("update: calls %v, want exactly one patch", got)
	}
	wantStored(t, cloud, updated)

	// Delete: the health check rule is no longer desired.
	cloud.Server.ResetCalls()
	mustReconcile(t, c, rules(updated), scope)
	if got := calls(cloud); got["delete"] != 1 || mutatingCalls(cloud) != 1 {
		t.Errorf("delete: calls %v, want exactly one delete", got)
	}
	if exists(t, cloud, health.Name) {
		t.Errorf("%s still exists after it left the desired set", health.Name)
	}

	// Move to another network: delete and insert.
	cloud.Server.ResetCalls()
	moved := newRule("web", webUID, withSourceRanges("10.0.0.0/8"), withPorts("tcp", "80", "81", "443", "8443"), withNetwork(otherNetwork))
	mustReconcile(t, c, rules(moved), scope)
	if got := calls(cloud); got["delete"] != 1 || got["insert"] != 1 || mutatingCalls(cloud) != 2 {
		t.Errorf("network change: calls %v, want one delete and one insert", got)
	}
	wantStored(t, cloud, moved)

	// And the last resync is quiet again.
	cloud.Server.ResetCalls()
	mustReconcile(t, c, rules(moved), scope)
	if got := mutatingCalls(cloud); got != 0 {
		t.Errorf("final resync made %d mutating calls, want 0", got)
	}
}

func TestAPatchClearsFieldsSetByHand(t *testing.T) {
	cloud, c := startCloud(t)
	web := newRule("web", webUID)
	insertDirect(t, cloud, web)
	tampered := web.Firewall()
	tampered.Disabled = true
	tampered.SourceTags = []string{"bastion"}
	tampered.TargetTags = []string{"node", "debug"}
	op, err := cloud.Compute.Firewalls.Patch(cloud.Project, web.Name, tampered).Do()
	if err == nil {
		op, err = cloud.WaitOperation(context.Background(), op)
	}
	if err != nil || op.Error != nil {
		t.Fatalf("tamper: %v", err)
	}
	mustReconcile(t, c, rules(web), firewall.ForService(webUID))
	fw := get(t, cloud, web.Name)
	if fw.Disabled || len(fw.SourceTags) > 0 {
		t.Errorf("after reconcile: disabled=%v sourceTags=%v, want the hand edits gone", fw.Disabled, fw.SourceTags)
	}
	wantStored(t, cloud, web)
	cloud.Server.ResetCalls()
	mustReconcile(t, c, rules(web), firewall.ForService(webUID))
	if got := mutatingCalls(cloud); got != 0 {
		t.Errorf("resync after repair made %d mutating calls, want 0", got)
	}
}

func TestInsertOfAnEqualExistingRuleIsSuccess(t *testing.T) {
	cloud, c := startCloud(t)
	web := newRule("web", webUID, withPorts("tcp", "443", "80"))
	insertDirect(t, cloud, web)
	cloud.Server.ResetCalls()

	// A plan made before the rule appeared (a retry whose first answer was lost).
	plan := firewall.Diff(rules(web), nil, owner, firewall.Scope{})
	if err := firewall.Apply(context.Background(), c, plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := calls(cloud); got["insert"] != 1 || got["get"] != 1 || mutatingCalls(cloud) != 1 {
		t.Errorf("calls %v, want one insert (answered 409) and one get", got)
	}
}

func TestInsertOverAnOwnedButDifferentRulePatchesIt(t *testing.T) {
	cloud, c := startCloud(t)
	insertDirect(t, cloud, newRule("web", webUID))
	want := newRule("web", webUID, withPorts("tcp", "8080"))
	plan := firewall.Diff(rules(want), nil, owner, firewall.Scope{})
	if err := firewall.Apply(context.Background(), c, plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := calls(cloud)["patch"]; got != 1 {
		t.Errorf("%d patches, want 1", got)
	}
	wantStored(t, cloud, want)
}

func TestInsertOverAForeignRuleIsAConflict(t *testing.T) {
	cloud, c := startCloud(t)
	theirs := newRule("web", webUID, foreign(), withPorts("tcp", "22"))
	insertDirect(t, cloud, theirs)
	before := get(t, cloud, theirs.Name)

	plan := firewall.Diff(rules(newRule("web", webUID)), nil, owner, firewall.Scope{})
	err := firewall.Apply(context.Background(), c, plan)
	var conflict firewall.Conflict
	if !errors.As(err, &conflict) {
		t.Fatalf("Apply: %v, want a Conflict", err)
	}
	if !strings.Contains(err.Error(), "insert firewall "+theirs.Name) {
		t.Errorf("error %q does not name the verb and rule", err)
	}
	if diff := cmp.Diff(before, get(t, cloud, theirs.Name), cmp.Comparer(func(a, b compute.Firewall) bool {
		return cmp.Equal(a.Allowed, b.Allowed) && a.Description == b.Description
	})); diff != "" {
		t.Errorf("the foreign rule changed:\n%s", diff)
	}
	if got := calls(cloud); got["patch"] != 0 || got["delete"] != 0 {
		t.Errorf("calls %v, want no patch and no delete", got)
	}
}

func TestAConflictFromDiffIsReportedAndTheRestIsDone(t *testing.T) {
	cloud, c := startCloud(t)
	insertDirect(t, cloud, newRule("web", webUID, foreign()))
	api := newRule("api", apiUID)
	_, err := reconcile(t, c, rules(newRule("web", webUID), api), firewall.Scope{})
	var conflict firewall.Conflict
	if !errors.As(err, &conflict) || conflict.Name != owner.ResourceName("fw", "web") {
		t.Fatalf("reconcile: %v, want a Conflict on the web rule", err)
	}
	wantStored(t, cloud, api)
}

func TestApplyNeverPatchesOrDeletesAForeignRule(t *testing.T) {
	cloud, c := startCloud(t)
	theirs := newRule("web", webUID, foreign(), withPorts("tcp", "22"))
	insertDirect(t, cloud, theirs)
	cloud.Server.ResetCalls()

	// A plan that Diff would not make: it names the foreign rule for a patch
	// and a delete, as a stale or hand-built plan might.
	plan := firewall.Plan{Owner: owner,
		Patches: []firewall.Patch{{Name: theirs.Name, Rule: newRule("web", webUID)}},
		Deletes: []string{theirs.Name}}
	err := firewall.Apply(context.Background(), c, plan)
	var conflict firewall.Conflict
	if !errors.As(err, &conflict) {
		t.Errorf("Apply: %v, want a Conflict for the patch", err)
	}
	if got := calls(cloud); got["patch"] != 0 || got["delete"] != 0 || got["insert"] != 0 {
		t.Errorf("calls %v, want gets only", got)
	}
	wantStored(t, cloud, theirs)
}

func TestApplyRefusesAPlanWithoutOwner(t *testing.T) {
	cloud, c := startCloud(t)
	insertDirect(t, cloud, newRule("web", webUID, withDescription("{}")))
	cloud.Server.ResetCalls()
	for _, o := range []ownership.Cluster{{}, ownership.ForCluster("")} {
		err := firewall.Apply(context.Background(), c, firewall.Plan{Owner: o, Deletes: []string{owner.ResourceName("fw", "web")}})
		if err == nil {
			t.Errorf("Apply with owner %q: no error", o.Name())
		}
	}
	if got := len(cloud.Server.Calls()); got != 0 {
		t.Errorf("%d calls, want none", got)
	}
}

func TestAPatchOfARuleGoneSinceTheDiffInsertsIt(t *testing.T) {
	cloud, c := startCloud(t)
	web := newRule("web", webUID, withPorts("tcp", "443"))
	plan := firewall.Plan{Owner: owner, Patches: []firewall.Patch{{Name: web.Name, Rule: web}}}
	if err := firewall.Apply(context.Background(), c, plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantStored(t, cloud, web)
}

func TestADeleteOfARuleAlreadyGoneIsSuccess(t *testing.T) {
	_, c := startCloud(t)
	plan := firewall.Plan{Owner: owner, Deletes: []string{owner.ResourceName("fw", "web")}}
	if err := firewall.Apply(context.Background(), c, plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func TestAFailedInsertConvergesOnTheNextReconcile(t *testing.T) {
	for _, fault := range []fakegce.FaultRule{
		{Method: "compute.firewalls.insert", Code: 503, Count: 1},
		{Method: "compute.firewalls.insert", Code: 503, Count: 1, FailOperation: true},
	} {
		name := "a 503 answer"
		if fault.FailOperation {
			name = "an operation that fails"
		}
		t.Run(name, func(t *testing.T) {
			cloud, c := startCloud(t)
			desired := rules(newRule("web", webUID), newRule("web-hc", webUID, withPorts("tcp", "10256")))
			if err := cloud.Server.SetFaults([]fakegce.FaultRule{fault}); err != nil {
				t.Fatal(err)
			}
			_, err := reconcile(t, c, desired, firewall.ForService(webUID))
			if err == nil || !strings.Contains(err.Error(), "insert firewall "+owner.Prefix()+"fw-web") {
				t.Fatalf("first reconcile: %v, want an insert error naming the rule", err)
			}
			if computeclient.Classify(err) != computeclient.ClassServer {
				t.Errorf("Classify(%v) = %s, want %s", err, computeclient.Classify(err), computeclient.ClassServer)
			}

			mustReconcile(t, c, desired, firewall.ForService(webUID))
			for _, r := range desired {
				wantStored(t, cloud, r)
			}
			cloud.Server.ResetCalls()
			mustReconcile(t, c, desired, firewall.ForService(webUID))
			if got := mutatingCalls(cloud); got != 0 {
				t.Errorf("resync after convergence made %d mutating calls, want 0", got)
			}
		})
	}
}

func TestApplyReportsEachFailedRule(t *testing.T) {
	cloud, c := startCloud(t)
	if err := cloud.Server.SetFaults([]fakegce.FaultRule{{Method: "compute.firewalls.insert", Code: 403, Reason: "quotaExceeded"}}); err != nil {
		t.Fatal(err)
	}
	_, err := reconcile(t, c, rules(newRule("a", webUID), newRule("b", webUID), newRule("c", webUID)), firewall.Scope{})
	for _, n := range []string{"a", "b", "c"} {
		if want := "insert firewall " + owner.ResourceName("fw", n) + ":"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

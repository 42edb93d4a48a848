package fakegce_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// generationAfter long-polls GET /admin/v1/generation?after=n.
func generationAfter(t testing.TB, c *fakegcetest.Cloud, n uint64) uint64 {
	t.Helper()
	code, body := rawJSON(t, c, "GET", "/admin/v1/generation?after="+strconv.FormatUint(n, 10), nil)
	g, ok := body["generation"].(float64)
	if code != http.StatusOK || !ok {
		t.Fatalf("GET generation = %d %v, want 200 with a generation", code, body)
	}
	return uint64(g)
}

func TestEveryCommittedChangeMovesTheGeneration(t *testing.T) {
	c := start(t)
	g0 := c.Server.Generation()
	defaultNetwork(t, c)
	g1 := c.Server.Generation()
	if g1 <= g0 {
		t.Fatalf("generation after inserting a network = %d, want more than %d", g1, g0)
	}
	if _, err := c.Compute.Firewalls.List(c.Project).Do(); err != nil {
		t.Fatal(err)
	}
	if g := c.Server.Generation(); g != g1 {
		t.Errorf("generation after a list = %d, want it unchanged at %d", g, g1)
	}
	if err := c.Server.Reset(); err != nil {
		t.Fatal(err)
	}
	if g := c.Server.Generation(); g <= g1 {
		t.Errorf("generation after a reset = %d, want more than %d", g, g1)
	}
}

func TestTheGenerationLongPollAnswersAtOnceWhenThereIsNewerState(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	if g := generationAfter(t, c, 0); g != c.Server.Generation() || g == 0 {
		t.Errorf("generation after 0 = %d, want the current %d", g, c.Server.Generation())
	}
}

func TestTheGenerationLongPollWaitsForTheNextChange(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	g := c.Server.Generation()
	answer := make(chan uint64, 1)
	go func() { answer <- generationAfter(t, c, g) }()
	// A correct long poll never answers before the change, however slow the machine.
	select {
	case got := <-answer:
		t.Fatalf("the long poll answered %d before any change", got)
	case <-time.After(50 * time.Millisecond):
	}
	insertFirewall(t, c, newFirewall("fw"))
	if got := <-answer; got <= g {
		t.Errorf("generation after a firewall insert = %d, want more than %d", got, g)
	}
}

func TestTheGenerationLongPollGivesUpWithTheCurrentValue(t *testing.T) {
	defer fakegce.SetGenerationWaitLimit(10 * time.Millisecond)()
	c := start(t)
	defaultNetwork(t, c)
	g := c.Server.Generation()
	if got := generationAfter(t, c, g); got != g {
		t.Errorf("generation after the wait limit = %d, want the unchanged %d", got, g)
	}
}

func TestTheGenerationLongPollRejectsABadAfter(t *testing.T) {
	c := start(t)
	if code, _ := rawJSON(t, c, "GET", "/admin/v1/generation?after=soon", nil); code != http.StatusBadRequest {
		t.Errorf("GET generation?after=soon = %d, want 400", code)
	}
}

func TestOperationsThatCompleteLaterMoveTheGeneration(t *testing.T) {
	c := start(t, withOpLatency(30*time.Millisecond))
	op, err := c.Compute.Networks.Insert(c.Project, newNetwork("default")).Do()
	if err != nil {
		t.Fatal(err)
	}
	g := c.Server.Generation()
	waitDone(t, c, op)
	if got := generationAfter(t, c, g); got <= g {
		t.Errorf("generation after the operation completed = %d, want more than %d", got, g)
	}
}

func TestReportedHealthIsWhatGetHealthAnswers(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertInstance(t, c, newInstance("vm1"))
	insertInstance(t, c, newInstance("vm2"))
	insertHTTPHealthCheck(t, c, "hc")
	tp := newTargetPool("pool", "vm1", "vm2")
	tp.HealthChecks = []string{"global/httpHealthChecks/hc"}
	insertTargetPool(t, c, tp)
	inst := func(n string) string { return link("projects/" + c.Project + "/zones/" + zone + "/instances/" + n) }
	health := func(name string) string {
		t.Helper()
		h, err := c.Compute.TargetPools.GetHealth(c.Project, region, "pool", &compute.InstanceReference{Instance: inst(name)}).Do()
		if err != nil || len(h.HealthStatus) != 1 {
			t.Fatalf("getHealth %s = %+v (%v)", name, h, err)
		}
		return h.HealthStatus[0].HealthState
	}

	reports := map[string]any{"health": []map[string]string{{
		"healthCheck": "projects/" + c.Project + "/global/httpHealthChecks/hc",
		"instance":    inst("vm1"), "healthState": "UNHEALTHY"}}}
	if code, body := rawJSON(t, c, "PUT", "/admin/v1/health", reports); code != http.StatusNoContent {
		t.Fatalf("PUT health = %d %v, want 204", code, body)
	}
	if got := health("vm1"); got != "UNHEALTHY" {
		t.Errorf("health of the instance reported unhealthy = %s", got)
	}
	if got := health("vm2"); got != "HEALTHY" {
		t.Errorf("health of an instance nobody reported = %s, want HEALTHY (it is running)", got)
	}
	_, body := rawJSON(t, c, "GET", "/admin/v1/health", nil)
	if l, _ := body["health"].([]any); len(l) != 1 || l[0].(map[string]any)["healthCheck"] != link("projects/"+c.Project+"/global/httpHealthChecks/hc") {
		t.Errorf("GET health = %v, want the one report with the check's full link", body)
	}

	if code, _ := rawJSON(t, c, "PUT", "/admin/v1/health", map[string]any{"health": []map[string]string{{
		"healthCheck": "hc", "instance": inst("vm1"), "healthState": "UNHEALTHY"}}}); code != http.StatusBadRequest {
		t.Errorf("PUT health with a bare check name = %d, want 400", code)
	}
	if code, _ := rawJSON(t, c, "PUT", "/admin/v1/health", map[string]any{"health": []map[string]string{{
		"healthCheck": "projects/" + c.Project + "/global/httpHealthChecks/hc", "instance": inst("vm1"), "healthState": "SICK"}}}); code != http.StatusBadRequest {
		t.Errorf("PUT health with state SICK = %d, want 400", code)
	}
	if code, _ := rawJSON(t, c, "PUT", "/admin/v1/health", map[string]any{"health": []any{}}); code != http.StatusNoContent {
		t.Fatalf("PUT no health = %d", code)
	}
	if got := health("vm1"); got != "HEALTHY" {
		t.Errorf("health once the report is withdrawn = %s, want HEALTHY", got)
	}
}

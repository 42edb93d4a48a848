package fakegce_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

func TestTheCallLogRecordsEveryComputeRequest(t *testing.T) {
	// Operations DONE at once: the log holds no operation waits.
	c := start(t, withOpLatency(fakegce.NoOpLatency))
	defaultNetwork(t, c)
	if _, err := c.Compute.Firewalls.Get(c.Project, "missing").Do(); err == nil {
		t.Fatal("get of a missing firewall succeeded")
	}
	if _, err := c.Compute.Firewalls.List(c.Project).Filter("name eq x").Do(); err != nil {
		t.Fatal(err)
	}
	code, body := rawJSON(t, c, "GET", "/admin/v1/calls", nil)
	if code != 200 {
		t.Fatalf("GET calls = %d", code)
	}
	type call struct {
		Method, Path, API string
		Status            int
	}
	var got []call
	raw, _ := body["calls"].([]any)
	for _, r := range raw {
		m := r.(map[string]any)
		got = append(got, call{m["method"].(string), m["path"].(string), m["api"].(string), int(m["status"].(float64))})
		if ts, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil || time.Since(ts) > time.Minute {
			t.Errorf("call time %v: %v", m["time"], err)
		}
		if d, ok := m["durationSeconds"].(float64); !ok || d <= 0 {
			t.Errorf("call duration = %v, want a positive number of seconds", m["durationSeconds"])
		}
	}
	p := "/compute/v1/projects/" + c.Project + "/global/"
	want := []call{
		{"POST", p + "networks", "compute.networks.insert", 200},
		{"GET", p + "firewalls/missing", "compute.firewalls.get", 404},
		{"GET", p + "firewalls", "compute.firewalls.list", 200},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if q, _ := raw[len(raw)-1].(map[string]any)["query"].(string); !strings.Contains(q, "filter=name+eq+x") {
		t.Errorf("query of the list call = %q, want the filter in it", q)
	}

	req, _ := http.NewRequest("DELETE", c.HTTP.URL+"/admin/v1/calls", nil)
	resp, err := c.HTTP.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE calls = %v %v, want 204", resp, err)
	}
	resp.Body.Close()
	if _, body = rawJSON(t, c, "GET", "/admin/v1/calls", nil); len(body["calls"].([]any)) != 0 {
		t.Errorf("calls after DELETE = %v, want none", body["calls"])
	}
}

func TestResetForgetsEveryResource(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertFirewall(t, c, newFirewall("fw"))
	code, body := rawJSON(t, c, "GET", "/admin/v1/state", nil)
	res, _ := body["resources"].(map[string]any)
	if code != 200 || res["projects/"+c.Project+"/global/firewalls/fw"] == nil {
		t.Fatalf("state = %d with %d resources, want the firewall in it", code, len(res))
	}
	if code, _ := rawJSON(t, c, "POST", "/admin/v1/reset", nil); code != http.StatusNoContent {
		t.Fatalf("POST reset = %d, want 204", code)
	}
	if _, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); !isCode(t, err, 404) {
		t.Errorf("firewall after reset: %v, want 404", err)
	}
	if _, body = rawJSON(t, c, "GET", "/admin/v1/state", nil); body["count"] != float64(0) {
		t.Errorf("state count after reset = %v, want 0", body["count"])
	}
	// The fake keeps working after a reset.
	defaultNetwork(t, c)
	insertFirewall(t, c, newFirewall("fw"))
}

func TestHealthzAndMetrics(t *testing.T) {
	c := start(t)
	if _, err := c.Compute.Projects.Get(c.Project).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compute.Firewalls.Get(c.Project, "missing").Do(); err == nil {
		t.Fatal("get of a missing firewall succeeded")
	}
	get := func(path string) (int, string) {
		resp, err := c.HTTP.Client().Get(c.HTTP.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, line := range []string{
		`fakegce_requests_total{code="200",method="compute.projects.get"} 1`,
		`fakegce_requests_total{code="404",method="compute.firewalls.get"} 1`,
		`# TYPE fakegce_request_duration_seconds histogram`,
	} {
		if !strings.Contains(body, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

package fakegce_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

func TestFaultRulesInjectErrors(t *testing.T) {
	tests := []struct {
		name string
		rule fakegce.FaultRule
		// codes are the answers to five firewall gets in a row (0 for success).
		codes      []int
		wantReason string
	}{
		{
			name:  "a rule by API method id fires on every match",
			rule:  fakegce.FaultRule{Method: "compute.firewalls.get", Code: 503},
			codes: []int{503, 503, 503, 503, 503}, wantReason: "backendError",
		},
		{
			name:  "a rule by HTTP verb and path regex fires on what it matches",
			rule:  fakegce.FaultRule{Method: "GET", Path: `/global/firewalls/fw$`, Code: 403, Reason: "rateLimitExceeded"},
			codes: []int{403, 403, 403, 403, 403}, wantReason: "rateLimitExceeded",
		},
		{
			name:  "a rule with a count fires for the next matches only",
			rule:  fakegce.FaultRule{Method: "compute.firewalls.get", Code: 429, Count: 2},
			codes: []int{429, 429, 0, 0, 0}, wantReason: "rateLimitExceeded",
		},
		{
			name:  "a rule for another method does not fire",
			rule:  fakegce.FaultRule{Method: "compute.firewalls.insert", Code: 500},
			codes: []int{0, 0, 0, 0, 0},
		},
		{
			name:  "a rule for another path does not fire",
			rule:  fakegce.FaultRule{Path: `/zones/`, Code: 500},
			codes: []int{0, 0, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t)
			defaultNetwork(t, c)
			insertFirewall(t, c, newFirewall("fw"))
			if err := c.Server.SetFaults([]fakegce.FaultRule{tt.rule}); err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := 0; i < 5; i++ {
				_, err := c.Compute.Firewalls.Get(c.Project, "fw").Do()
				code, reason := apiError(t, err)
				got = append(got, code)
				if code != 0 && reason != tt.wantReason {
					t.Errorf("answer %d reason = %q, want %q", i, reason, tt.wantReason)
				}
			}
			if diff := cmp.Diff(tt.codes, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAProbabilityFaultRepeatsForTheSameSeed(t *testing.T) {
	pattern := func(seed int64) string {
		c := start(t, func(cfg *fakegce.Config) {
			cfg.Seed = seed
			cfg.Faults = []fakegce.FaultRule{{Method: "compute.regions.get", Code: 503, Probability: 0.5}}
		})
		var b strings.Builder
		for i := 0; i < 40; i++ {
			_, err := c.Compute.Regions.Get(c.Project, region).Do()
			if err != nil {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b, other := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Errorf("seed 7 gave %s then %s, want the same failures", a, b)
	}
	if n := strings.Count(a, "x"); n < 8 || n > 32 {
		t.Errorf("probability 0.5 failed %d of 40 requests (%s), want about half", n, a)
	}
	if a == other {
		t.Errorf("seeds 7 and 8 gave the same failures %s", a)
	}
}

func TestAFaultCanDelayARequest(t *testing.T) {
	c := start(t, withFaults(fakegce.FaultRule{Method: "compute.projects.get", Latency: "150ms"}))
	begin := time.Now()
	if _, err := c.Compute.Projects.Get(c.Project).Do(); err != nil {
		t.Fatalf("a latency-only rule must let the request succeed: %v", err)
	}
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Errorf("request took %v, want at least 150ms", d)
	}
}

func TestAFaultCanFailTheOperationInsteadOfTheRequest(t *testing.T) {
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(fmt.Sprintf("with operation latency %v", latency), func(t *testing.T) {
			c := start(t, withOpLatency(latency))
			defaultNetwork(t, c)
			if err := c.Server.SetFaults([]fakegce.FaultRule{{Method: "compute.firewalls.insert", FailOperation: true,
				Code: 403, Reason: "quotaExceeded", Message: "Quota 'FIREWALLS' exceeded."}}); err != nil {
				t.Fatal(err)
			}
			op, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).Do()
			if err != nil {
				t.Fatalf("the request must be accepted: %v", err)
			}
			op = waitDone(t, c, op)
			got := []any{op.Status, op.HttpErrorStatusCode, opErrorText(op)}
			want := []any{"DONE", int64(403), "QUOTA_EXCEEDED: Quota 'FIREWALLS' exceeded."}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("operation (-want +got):\n%s", diff)
			}
			if _, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); !isCode(t, err, 404) {
				t.Errorf("the firewall of a failed operation: %v, want 404", err)
			}
		})
	}
}

func TestFaultRulesAreReplacedThroughTheAdminAPI(t *testing.T) {
	c := start(t)
	put := func(body string) int {
		req, _ := http.NewRequest("PUT", c.HTTP.URL+"/admin/v1/faults", strings.NewReader(body))
		resp, err := c.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put(`[{"method":"compute.zones.get","code":500,"count":1}]`); code != http.StatusNoContent {
		t.Fatalf("PUT faults = %d, want 204", code)
	}
	if _, err := c.Compute.Zones.Get(c.Project, zone).Do(); !isCode(t, err, 500) {
		t.Errorf("first zones.get = %v, want 500", err)
	}
	if _, err := c.Compute.Zones.Get(c.Project, zone).Do(); err != nil {
		t.Errorf("second zones.get = %v, want success after count 1", err)
	}
	if code := put(`{"rules":[{"path":"/zones/","code":404,"reason":"notFound"}]}`); code != http.StatusNoContent {
		t.Fatalf("PUT wrapped faults = %d, want 204", code)
	}
	code, body := rawJSON(t, c, "GET", "/admin/v1/faults", nil)
	rules, _ := body["rules"].([]any)
	if code != 200 || len(rules) != 1 {
		t.Errorf("GET faults = %d %v, want the one rule", code, body)
	}
	if put(`[]`) != http.StatusNoContent {
		t.Fatal("clearing the rules failed")
	}
	for _, tc := range []struct{ name, body string }{
		{"a rule without code or latency", `[{"method":"GET"}]`},
		{"a path that is not a regular expression", `[{"path":"(","code":500}]`},
		{"a code that is not an error", `[{"code":200}]`},
		{"a field that rules do not have", `{"rules":[],"extra":1}`},
	} {
		if code := put(tc.body); code != http.StatusBadRequest {
			t.Errorf("PUT %s = %d, want 400", tc.name, code)
		}
	}
	if _, err := c.Compute.Zones.Get(c.Project, zone).Do(); err != nil {
		t.Errorf("rejected rules must leave the old ones: %v", err)
	}
}

func TestABadFaultRuleInTheConfigStopsTheServer(t *testing.T) {
	_, err := fakegce.New(fakegce.Config{Faults: []fakegce.FaultRule{{Path: "(", Code: 500}}})
	if err == nil || !strings.Contains(err.Error(), "fault rule 0") {
		t.Errorf("New with a bad rule = %v, want an error naming fault rule 0", err)
	}
}

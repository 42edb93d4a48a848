package fakegce_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// fake-gce runs as a CI service, sometimes on a shared network: these tests
// play the requests an outsider (another process, a web page in a browser on
// the same machine, a DNS-rebinding page) can send it.

const ciToken = "ci-secret-token"

// send makes one raw request; headers are "Name: value" pairs, and a Host
// header sets the request's Host.
func send(t *testing.T, c *fakegcetest.Cloud, method, path, body string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.HTTP.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func withToken(token string) func(*fakegce.Config) {
	return func(c *fakegce.Config) { c.RequireToken = token }
}

func TestWithARequiredTokenTheAdminAPIAnswersOnlyThatToken(t *testing.T) {
	defer fakegce.SetGenerationWaitLimit(time.Millisecond)()
	c := start(t, withToken(ciToken))
	admin := []struct{ method, path, body string }{
		{"GET", "/admin/v1/state", ""},
		{"GET", "/admin/v1/calls", ""},
		{"DELETE", "/admin/v1/calls", ""},
		{"GET", "/admin/v1/faults", ""},
		{"PUT", "/admin/v1/faults", "[]"},
		{"GET", "/admin/v1/health", ""},
		{"GET", "/admin/v1/generation", ""},
		{"POST", "/admin/v1/reset", ""},
	}
	for _, a := range admin {
		if code, _ := send(t, c, a.method, a.path, a.body); code != http.StatusUnauthorized {
			t.Errorf("%s %s without the token = %d, want 401", a.method, a.path, code)
		}
		if code, _ := send(t, c, a.method, a.path, a.body, "Authorization: Bearer wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token = %d, want 401", a.method, a.path, code)
		}
		if code, body := send(t, c, a.method, a.path, a.body, "Authorization: Bearer "+ciToken); code >= 300 {
			t.Errorf("%s %s with the token = %d %s, want success", a.method, a.path, code, body)
		}
	}
	// Readiness probes carry no token.
	if code, _ := send(t, c, "GET", "/healthz", ""); code != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200 without a token", code)
	}
}

const tokenPath = "/computeMetadata/v1/instance/service-accounts/default/token"

func TestTheMetadataServerHandsOutTheRequiredTokenOnlyWhenAskedTo(t *testing.T) {
	c := start(t, withToken(ciToken))
	code, body := send(t, c, "GET", tokenPath, "", "Metadata-Flavor: Google")
	if strings.Contains(body, ciToken) {
		t.Fatalf("GET %s = %d %s: the metadata server handed out the required token without being asked to", tokenPath, code, body)
	}
	if code != http.StatusNotFound {
		t.Errorf("GET %s = %d, want 404 (no token served)", tokenPath, code)
	}

	c = start(t, withToken(ciToken), func(cfg *fakegce.Config) { cfg.ServeMetadataToken = true })
	code, body = send(t, c, "GET", tokenPath, "", "Metadata-Flavor: Google")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal([]byte(body), &tok)
	if code != http.StatusOK || tok.AccessToken != ciToken {
		t.Errorf("GET %s with ServeMetadataToken = %d %s, want the required token", tokenPath, code, body)
	}
}

func TestACrossOriginFormPostCannotResetTheState(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	// What a browser sends for a web page's <form method=post action=http://127.0.0.1:8085/admin/v1/reset>.
	code, _ := send(t, c, "POST", "/admin/v1/reset", "x=1",
		"Content-Type: application/x-www-form-urlencoded", "Origin: http://attacker.example", "Sec-Fetch-Site: cross-site")
	if code != http.StatusForbidden {
		t.Errorf("cross-origin POST /admin/v1/reset = %d, want 403", code)
	}
	if _, err := c.Compute.Networks.Get(c.Project, "default").Do(); err != nil {
		t.Errorf("the network is gone after a refused cross-origin reset: %v", err)
	}
	// An older browser sends Origin only.
	code, _ = send(t, c, "POST", "/admin/v1/reset", "x=1",
		"Content-Type: application/x-www-form-urlencoded", "Origin: http://attacker.example")
	if code != http.StatusForbidden {
		t.Errorf("cross-origin POST /admin/v1/reset (Origin only) = %d, want 403", code)
	}
	// Tools (curl, Go clients) send neither header and keep working.
	if code, body := send(t, c, "POST", "/admin/v1/reset", ""); code != http.StatusNoContent {
		t.Errorf("POST /admin/v1/reset from a tool = %d %s, want 204", code, body)
	}
}

func TestARequestNamingAnUnexpectedHostIsRefused(t *testing.T) {
	c := start(t, func(cfg *fakegce.Config) { cfg.AllowedHosts = []string{"fake-gce.ci.internal"} })
	port := c.Host[strings.LastIndexByte(c.Host, ':'):]
	tests := []struct {
		host string
		want int
	}{
		// A DNS-rebinding page reaches the loopback port under its own name.
		{"rebind.attacker.example" + port, http.StatusForbidden},
		{"rebind.attacker.example", http.StatusForbidden},
		{"localhost" + port, http.StatusOK},
		{"127.0.0.1" + port, http.StatusOK},
		{"[::1]" + port, http.StatusOK},
		{"fake-gce.ci.internal" + port, http.StatusOK},
		{"FAKE-GCE.ci.internal.", http.StatusOK},
	}
	for _, tt := range tests {
		for _, path := range []string{"/admin/v1/state", "/compute/v1/projects/" + c.Project + "/global/networks"} {
			if code, body := send(t, c, "GET", path, "", "Host: "+tt.host); code != tt.want {
				t.Errorf("GET %s with Host %q = %d %s, want %d", path, tt.host, code, body, tt.want)
			}
		}
	}
	code, _ := send(t, c, "GET", tokenPath, "", "Host: rebind.attacker.example"+port, "Metadata-Flavor: Google")
	if code != http.StatusForbidden {
		t.Errorf("metadata token with Host rebind.attacker.example = %d, want 403", code)
	}
}

func TestTheCallLogIsBoundedInEntriesAndBytes(t *testing.T) {
	// Each cap is checked where only it can trim: 200 calls of about 1 KiB
	// each once cut (about 240 KiB) against 50 entries and plenty of bytes,
	// then against plenty of entries and 16 KiB.
	tests := []struct {
		name               string
		maxCalls, maxBytes int
	}{
		{name: "by entries", maxCalls: 50, maxBytes: 1 << 20},
		{name: "by bytes", maxCalls: 10000, maxBytes: 16 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, func(cfg *fakegce.Config) { cfg.MaxCalls = tt.maxCalls; cfg.MaxCallBytes = tt.maxBytes })
			long := "/compute/v1/projects/" + c.Project + "/global/networks?filter=" + strings.Repeat("a", 100<<10)
			for i := 0; i < 200; i++ {
				send(t, c, "GET", long, "")
			}
			code, body := send(t, c, "GET", "/admin/v1/calls", "")
			if code != http.StatusOK {
				t.Fatalf("GET /admin/v1/calls = %d", code)
			}
			var log struct {
				Calls   []fakegce.CallRecord `json:"calls"`
				Dropped int                  `json:"dropped"`
			}
			if err := json.Unmarshal([]byte(body), &log); err != nil {
				t.Fatal(err)
			}
			if len(log.Calls) == 0 || len(log.Calls) > tt.maxCalls {
				t.Errorf("the log holds %d calls, want 1 to %d", len(log.Calls), tt.maxCalls)
			}
			if len(log.Calls) >= 200 || log.Dropped == 0 {
				t.Errorf("the log holds %d calls and dropped %d, want some dropped", len(log.Calls), log.Dropped)
			}
			if len(body) > tt.maxBytes+4<<10 {
				t.Errorf("GET /admin/v1/calls answered %d bytes, want about %d at most", len(body), tt.maxBytes)
			}
			if log.Dropped+len(log.Calls) != 200 {
				t.Errorf("kept %d + dropped %d calls, want 200 in all", len(log.Calls), log.Dropped)
			}
			last := log.Calls[len(log.Calls)-1]
			if len(last.Query) > 2<<10 || !strings.HasPrefix(last.Query, "filter=aaaa") {
				t.Errorf("a 100 KB query is kept as %d bytes starting %.20q, want it cut to its first KB or so", len(last.Query), last.Query)
			}
		})
	}
}

func TestRequestsRefusedForTheirCredentialsAreNotLogged(t *testing.T) {
	c := start(t, withToken(ciToken))
	for i := 0; i < 20; i++ {
		send(t, c, "GET", "/compute/v1/projects/"+c.Project+"/global/networks?filter="+strings.Repeat("a", 10<<10), "")
		send(t, c, "GET", "/compute/v1/projects/"+c.Project+"/global/networks", "", "Authorization: Bearer wrong")
	}
	code, body := send(t, c, "GET", "/admin/v1/calls", "", "Authorization: Bearer "+ciToken)
	var log struct {
		Calls []fakegce.CallRecord `json:"calls"`
	}
	json.Unmarshal([]byte(body), &log)
	if code != http.StatusOK || len(log.Calls) != 0 {
		t.Errorf("GET /admin/v1/calls = %d with %d calls, want 200 and none: unauthenticated requests are not kept", code, len(log.Calls))
	}
}

func TestADescriptionLongerThan2048CharactersIsRefused(t *testing.T) {
	c := start(t, withOpLatency(fakegce.NoOpLatency))
	defaultNetwork(t, c)
	tests := []struct {
		name        string
		description string
		wantCode    int
	}{
		{"2048 characters are accepted", strings.Repeat("d", 2048), 0},
		{"2048 multi-byte characters are accepted", strings.Repeat("é", 2048), 0},
		{"2049 characters are refused", strings.Repeat("d", 2049), http.StatusBadRequest},
		{"a megabyte is refused", strings.Repeat("d", 1<<20), http.StatusBadRequest},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := newFirewall("fw-"+string(rune('a'+i)), withDescription(tt.description))
			_, err := c.Compute.Firewalls.Insert(c.Project, fw).Do()
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("insert: %v", err)
				}
				return
			}
			if code, _ := apiError(t, err); code != tt.wantCode {
				t.Errorf("insert = %v, want %d", err, tt.wantCode)
			}
		})
	}
}

func TestAFaultRuleCannotHoldRequestsForHours(t *testing.T) {
	c := start(t)
	code, body := send(t, c, "PUT", "/admin/v1/faults", `[{"latency": "3h"}]`)
	if code != http.StatusBadRequest {
		t.Errorf("PUT a fault with a 3h latency = %d %s, want 400", code, body)
	}
	if _, err := fakegce.New(fakegce.Config{Faults: []fakegce.FaultRule{{Latency: "3h"}}}); err == nil {
		t.Error("New with a 3h fault latency succeeded, want an error")
	}
	if code, body := send(t, c, "PUT", "/admin/v1/faults", `[{"latency": "2s"}]`); code != http.StatusNoContent {
		t.Errorf("PUT a fault with a 2s latency = %d %s, want 204", code, body)
	}
}

package fakegce_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// terraformToken is the bearer token the provider was configured with.
const terraformToken = "fake-token"

// TestReplayTerraformRequests sends every request the Google terraform
// provider 7.45.0 made for apply, plan and destroy of a network, subnetwork,
// firewall, labelled regional address and instance. Only the requests are
// ground truth (a stub answered them): each must answer 200, the answers must
// carry every field the provider reads back (or the next plan is not empty),
// and destroy must leave nothing behind.
func TestReplayTerraformRequests(t *testing.T) {
	sections := readTerraformRequests(t, filepath.Join(fixtureDir(t), "terraform-google-7.45.0", "requests.jsonl"))
	cfg := replayConfig
	cfg.RequireToken = terraformToken
	r := startReplay(t, cfg, nil)
	r.auth = "Bearer " + terraformToken
	r.waitOperations = true
	n := 0
	for _, s := range sections {
		r.read = map[string]map[string]any{}
		for _, e := range s.requests {
			r.replay(n, e)
			n++
		}
		if s.name != "destroy" {
			checkProviderReadBack(t, s.name, r.read)
		}
	}
	checkNothingLeft(t, r)
	t.Logf("%d of %d requests answered 200 (%s)", r.matched, n, sectionSizes(sections))
}

// providerReadBack is what the provider reads back after apply and during
// plan, by resource: the values it stores in state and diffs against.
var providerReadBack = []struct {
	path   string
	fields []string
}{
	{"zones/us-central1-a/instances/node-1", []string{"disks[0].source", "networkInterfaces[0].networkIP",
		"fingerprint", "labelFingerprint", "tags.fingerprint", "metadata.fingerprint"}},
	{"zones/us-central1-a/disks/node-1", []string{"sourceImage"}},
	{"regions/us-central1/addresses/lb-ip", []string{"labelFingerprint", "address"}},
	{"regions/us-central1/subnetworks/nodes", []string{"gatewayAddress", "fingerprint"}},
	{"global/firewalls/allow-internal", []string{"direction", "priority", "sourceRanges", "logConfig"}},
}

func checkProviderReadBack(t *testing.T, section string, read map[string]map[string]any) {
	t.Helper()
	for _, rb := range providerReadBack {
		obj, ok := read["projects/fake-project/"+rb.path]
		if !ok {
			t.Errorf("%s: the provider never read %s", section, rb.path)
			continue
		}
		for _, f := range rb.fields {
			if v, ok := valueAt(obj, f); !ok || isEmpty(v) {
				t.Errorf("%s: %s has no %s for the provider to read back (got %s)", section, rb.path, f, jsonText(v))
			}
		}
	}
}

// checkNothingLeft asserts that after destroy only operations remain.
func checkNothingLeft(t *testing.T, r *replay) {
	t.Helper()
	resp, err := r.cloud.HTTP.Client().Get(r.cloud.HTTP.URL + "/admin/v1/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct {
		Resources map[string]json.RawMessage `json:"resources"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		t.Fatalf("admin state: %v", err)
	}
	for path := range state.Resources {
		if !strings.Contains(path, "/operations/") {
			t.Errorf("after destroy the fake still holds %s", path)
		}
	}
}

type terraformSection struct {
	name     string
	requests []transcriptEntry
}

// readTerraformRequests reads requests.jsonl: one request a line, with the
// lines MARK-PLAN and MARK-DESTROY where plan and destroy begin.
func readTerraformRequests(t *testing.T, file string) []terraformSection {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := []terraformSection{{name: "apply"}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if mark, ok := strings.CutPrefix(text, "MARK-"); ok {
			sections = append(sections, terraformSection{name: strings.ToLower(mark)})
			continue
		}
		if text == "" {
			continue
		}
		var req struct {
			Method string          `json:"m"`
			Path   string          `json:"path"`
			Query  string          `json:"q"`
			Auth   string          `json:"auth"`
			Body   json.RawMessage `json:"body"`
			Code   int             `json:"code"`
		}
		if err := json.Unmarshal([]byte(text), &req); err != nil {
			t.Fatalf("%s:%d: %v", file, line, err)
		}
		if req.Auth != "Bearer "+terraformToken {
			t.Fatalf("%s:%d: authorization %q, want the provider's token", file, line, req.Auth)
		}
		body := ""
		if string(req.Body) != "null" {
			body = string(req.Body)
		}
		s := &sections[len(sections)-1]
		s.requests = append(s.requests, transcriptEntry{Method: req.Method, Path: strings.TrimPrefix(req.Path, "/compute/v1/"),
			Query: req.Query, Body: body, Status: http.StatusOK})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sections
}

func sectionSizes(sections []terraformSection) string {
	var parts []string
	for _, s := range sections {
		parts = append(parts, fmt.Sprintf("%s %d", s.name, len(s.requests)))
	}
	return strings.Join(parts, ", ")
}

// valueAt reads a field path such as "disks[0].source" or "tags.fingerprint".
func valueAt(obj map[string]any, path string) (any, bool) {
	var v any = obj
	for _, part := range strings.Split(path, ".") {
		name, idx, indexed := strings.Cut(part, "[")
		o, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = o[name]; !ok {
			return nil, false
		}
		if indexed {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			l, ok := v.([]any)
			if err != nil || !ok || i >= len(l) {
				return nil, false
			}
			v = l[i]
		}
	}
	return v, true
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

package fakegce_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// Replay tests: what real clients sent, and what the real API answered, sent
// again to fake-gce. The recordings live in the project's shared fixtures
// (shared/fixtures beside the repository, or $CPV_FIXTURES), which README.md
// there describes: Config Connector's _http.log files recorded against real
// GCP (gcp-http-logs), and every request of the Google terraform provider
// 7.45.0 (terraform-google-7.45.0).

// fixtureDir finds the shared fixtures. Without them the replay cannot run:
// it is skipped, saying so, unless CPV_REQUIRE_FIXTURES is set (CI sets it).
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CPV_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "fixtures")
	}
	if _, err := os.Stat(filepath.Join(dir, "gcp-http-logs")); err != nil {
		if os.Getenv("CPV_REQUIRE_FIXTURES") != "" {
			t.Fatalf("the shared fixtures are not at %s (set CPV_FIXTURES): %v", dir, err)
		}
		t.Skipf("the shared fixtures are not at %s; set CPV_FIXTURES to run the replay", dir)
	}
	return dir
}

// replayConfig is a fake with the regions the recordings use.
var replayConfig = fakegce.Config{Regions: []string{"us-central1", "us-west1"}}

// TestReplayHTTPLogs sends every recorded request to a fresh fake, in order,
// and compares each answer with the recorded one: the same status code, and
// every recorded field present with the same JSON type (shape_test.go).
func TestReplayHTTPLogs(t *testing.T) {
	root := fixtureDir(t)
	logs, err := filepath.Glob(filepath.Join(root, "gcp-http-logs", "*", "*", "_http.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no recordings under %s (err %v)", root, err)
	}
	for _, file := range logs {
		fixture := filepath.Base(filepath.Dir(file))
		t.Run(fixture, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := parseTranscript(string(raw))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			r := startReplay(t, replayConfig, entries)
			for i, e := range entries {
				r.replay(i, e)
			}
			t.Logf("%s: %d of %d recorded requests answered alike", fixture, r.matched, len(entries))
		})
	}
}

// replay sends one recording's requests to its own fake.
type replay struct {
	t     *testing.T
	cloud *fakegcetest.Cloud
	names *placeholderNames
	// read is the fake's latest answer for each resource path: a client sends
	// back the fingerprints it read.
	read map[string]map[string]any
	// normalised maps values the recording normalised (an address became
	// 8.8.8.8) to the fake's value, learnt from answers that carried them:
	// a client sends back the address it read.
	normalised map[string]string
	// auth is the Authorization header the client sent, if any.
	auth string
	// waitOperations: the recording leaves out the client's operation
	// polls, so the replay waits on every operation itself.
	waitOperations bool
	matched        int
}

func startReplay(t *testing.T, cfg fakegce.Config, entries []transcriptEntry) *replay {
	r := &replay{t: t, cloud: fakegcetest.Start(t, cfg),
		read: map[string]map[string]any{}, normalised: map[string]string{}}
	r.names = newPlaceholderNames(r.cloud.Project)
	if usesDefaultNetwork(entries) {
		r.names.preexisting("networkID", "default")
		r.seedDefaultNetwork(entries)
	}
	return r
}

// usesDefaultNetwork reports whether the recording used the project's
// default network: it names ${networkID} but never inserts a network.
func usesDefaultNetwork(entries []transcriptEntry) bool {
	named := false
	for _, e := range entries {
		if e.Method == http.MethodPost && strings.HasSuffix(e.Path, "/global/networks") {
			return false
		}
		named = named || strings.Contains(e.Path+e.Body+e.Response, "${networkID}")
	}
	return named
}

// seedDefaultNetwork creates what a real project starts with: an auto-mode
// network named default (with a subnetwork in each region), with the
// settable fields the recording shows it with (default networks differ by
// project: some have an mtu, some a description).
func (r *replay) seedDefaultNetwork(entries []transcriptEntry) {
	body := map[string]any{"name": "default", "autoCreateSubnetworks": true}
	for _, e := range entries {
		if e.Method != http.MethodGet || e.Status != http.StatusOK || !strings.HasSuffix(e.Path, "/global/networks/${networkID}") {
			continue
		}
		recorded, _ := decodeJSON([]byte(e.Response))
		net, _ := recorded.(map[string]any)
		for _, k := range []string{"description", "mtu"} {
			if v, ok := net[k]; ok {
				body[k] = v
			}
		}
		if rc, ok := net["routingConfig"].(map[string]any); ok {
			body["routingConfig"] = map[string]any{"routingMode": rc["routingMode"]}
		}
		break
	}
	status, resp := sendTo(r.t, r.cloud, http.MethodPost, "projects/"+r.cloud.Project+"/global/networks", "", jsonText(body))
	if status != http.StatusOK {
		r.t.Fatalf("seed the default network: %d %s", status, resp)
	}
	if op, _ := decodeJSON(resp); stringField(op, "status") != "DONE" {
		sendTo(r.t, r.cloud, http.MethodPost, "projects/"+r.cloud.Project+"/global/operations/"+stringField(op, "name")+"/wait", "", "")
	}
}

// replay sends entry i and compares the answer with the recorded one.
func (r *replay) replay(i int, e transcriptEntry) {
	t := r.t
	where := fmt.Sprintf("entry %d: %s %s", i, e.Method, e.Path)
	want, err := decodeJSON([]byte(r.names.fillFixed(e.Response)))
	if err != nil {
		t.Fatalf("%s: recorded answer: %v", where, err)
	}
	req := r.fill(e)
	if e.Method == http.MethodGet && strings.Contains(req.path, "/operations/") && stringField(want, "status") == "DONE" {
		// The client polled until DONE; the recording keeps its last poll.
		sendTo(t, r.cloud, http.MethodPost, req.path+"/wait", "", "", "Authorization", r.auth)
	}
	status, resp := sendTo(t, r.cloud, req.method, req.path, req.query, req.body, "Authorization", r.auth)
	got, _ := decodeJSON(resp)
	r.remember(req, status, want, got)
	if r.waitOperations && kindOf(got) == "compute#operation" && stringField(got, "status") != "DONE" {
		// The client waits on the operation before its next request; the
		// recording holds no polls.
		sendTo(t, r.cloud, http.MethodPost, strings.TrimPrefix(stringField(got, "selfLink"), "https://www.googleapis.com/compute/v1/")+"/wait", "", "", "Authorization", r.auth)
	}
	if status != e.Status {
		// Answers of two statuses differ in shape anyway; the status says it all.
		t.Errorf("%s: status %d, recorded %d; the fake answered %s", where, status, e.Status, clip(string(resp)))
		return
	}
	if diffs := shapeDiffs(want, got); len(diffs) > 0 {
		t.Errorf("%s: the fake's answer differs in shape from the recording:\n  %s", where, strings.Join(diffs, "\n  "))
		return
	}
	r.matched++
}

type filledRequest struct {
	method, path, query, body string
	// self is the name of the resource the path names, if it names one.
	self string
}

// fill puts concrete names into a recorded request (placeholders_test.go),
// the fake's operation name into an operation poll, and the fingerprints
// and normalised values the fake handed out into the body.
func (r *replay) fill(e transcriptEntry) filledRequest {
	n := r.names
	segs := strings.Split(n.fillFixed(e.Path), "/")
	missing := e.Method == http.MethodGet && e.Status == http.StatusNotFound
	for i, s := range segs {
		ph, isPH := placeholderOnly(s)
		switch {
		case i > 0 && segs[i-1] == "operations":
			// A poll names the operation the client was handed: the fake's.
			segs[i] = n.lastOp
		case isPH && i == len(segs)-1 && missing:
			segs[i] = n.lookupMissing(ph).name
		case isPH:
			segs[i] = n.newest(ph).name
		}
	}
	req := filledRequest{method: e.Method, path: strings.Join(segs, "/")}
	nameAt := resourceNameIndex(segs)
	if nameAt > 0 {
		req.self = segs[nameAt]
		if missing && nameAt == len(segs)-1 {
			n.pending[strings.Join(segs[:nameAt], "/")] = req.self
		}
	}
	refs := &references{n: n, self: req.self, used: map[string]bool{}}
	req.query = refs.fill(e.Query)
	if e.Body == "" {
		return req
	}
	body, err := decodeJSON([]byte(e.Body))
	obj, isObj := body.(map[string]any)
	if err != nil || !isObj {
		r.t.Fatalf("%s %s: recorded body is no JSON object: %v", e.Method, e.Path, err)
	}
	insert := isInsert(e.Method, segs)
	if ph, ok := placeholderOnly(stringField(obj, "name")); ok && insert {
		obj["name"] = n.inserted(ph, req.path)
		refs.self = obj["name"].(string)
	} else if ok {
		obj["name"] = req.self
	} else if insert {
		delete(n.pending, req.path)
	}
	// A request that repoints a resource (setTarget) names its new target:
	// of two live targets under one placeholder, the newer one.
	refs.newestFirst = segs[len(segs)-1] == "setTarget"
	for k, v := range obj {
		if k != "name" {
			obj[k] = fillStrings(v, func(s string) string { return r.denormalise(refs.fill(s)) })
		}
	}
	r.fillFingerprints(obj, segs, nameAt)
	req.body = jsonText(obj)
	return req
}

func (r *replay) denormalise(s string) string {
	if v, ok := r.normalised[s]; ok {
		return v
	}
	return s
}

// fillFingerprints replaces the recorded (normalised) fingerprints with the
// ones the fake handed out for the resource, as a client copies them from
// the resource it read.
func (r *replay) fillFingerprints(obj map[string]any, segs []string, nameAt int) {
	if nameAt == 0 {
		return
	}
	read := r.read[strings.Join(segs[:nameAt+1], "/")]
	for _, k := range []string{"fingerprint", "labelFingerprint"} {
		if _, sent := obj[k]; sent && read[k] != nil {
			obj[k] = read[k]
		}
	}
}

// normalisedFields are the fields whose recorded values FORMAT.md says were
// replaced by one value for all (an address by 8.8.8.8).
var normalisedFields = []string{"address", "IPAddress"}

// remember keeps what later requests depend on: the operation to poll, the
// resources read and deleted, and the fake's values for normalised ones.
func (r *replay) remember(req filledRequest, status int, want, got any) {
	obj, _ := got.(map[string]any)
	if kindOf(obj) == "compute#operation" && !strings.Contains(req.path, "/operations/") {
		r.names.lastOp = stringField(obj, "name")
	}
	if status/100 != 2 {
		return
	}
	for _, f := range normalisedFields {
		if w, g := stringField(want, f), stringField(got, f); w != "" && g != "" {
			r.normalised[w] = g
		}
	}
	switch req.method {
	case http.MethodGet:
		r.read[req.path] = obj
	case http.MethodDelete:
		r.names.deleted(req.self)
	}
}

// sendTo sends one request to the fake's compute API with plain net/http.
func sendTo(t testing.TB, c *fakegcetest.Cloud, method, path, query, body string, header ...string) (int, []byte) {
	t.Helper()
	u := c.Endpoint + strings.TrimPrefix(path, "/")
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := c.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// resourceNameIndex is the index of the resource name in a compute path,
// projects/P/global/COLL/NAME or projects/P/{regions|zones}/S/COLL/NAME,
// or 0 when the path names no resource.
func resourceNameIndex(segs []string) int {
	switch {
	case len(segs) >= 5 && segs[2] == "global":
		return 4
	case len(segs) >= 6 && (segs[2] == "regions" || segs[2] == "zones"):
		return 5
	}
	return 0
}

// isInsert reports whether a request inserts into a collection.
func isInsert(method string, segs []string) bool {
	if method != http.MethodPost {
		return false
	}
	return (len(segs) == 4 && segs[2] == "global") || (len(segs) == 5 && (segs[2] == "regions" || segs[2] == "zones"))
}

// fillStrings applies fill to every string in a decoded JSON value.
func fillStrings(v any, fill func(string) string) any {
	switch t := v.(type) {
	case string:
		return fill(t)
	case map[string]any:
		for k, e := range t {
			t[k] = fillStrings(e, fill)
		}
	case []any:
		for i, e := range t {
			t[i] = fillStrings(e, fill)
		}
	}
	return v
}

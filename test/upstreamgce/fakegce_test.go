package upstreamgce

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
)

// fakeGCEBinary is fake-gce, built once from the main module by TestMain.
var fakeGCEBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "upstreamgce")
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstreamgce:", err)
		os.Exit(1)
	}
	// FAKE_GCE names a fake-gce binary to run instead of building one (to
	// check a fake-gce of another commit against the same client).
	fakeGCEBinary = os.Getenv("FAKE_GCE")
	if fakeGCEBinary == "" {
		fakeGCEBinary = filepath.Join(dir, "fake-gce")
		err = buildFakeGCE(fakeGCEBinary)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstreamgce:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildFakeGCE builds ./cmd/fake-gce of the main module, two folders up,
// with the main module's own go.mod (GOWORK=off: no workspace may join the
// two dependency graphs).
func buildFakeGCE(out string) error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/fake-gce")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build fake-gce in %s: %v\n%s", root, err, output)
	}
	return nil
}

const (
	project = "upstream-project"
	region  = "us-central1"
	zoneA   = "us-central1-a"
	zoneB   = "us-central1-b"
	// token is the bearer token fake-gce requires; its metadata server hands
	// it out, so the provider's metadata token source is exercised too.
	token = "upstream-gce-token"
)

// fakeGCE is one fake-gce process and a compute client (at the API level
// the upstream provider is built with) for the test's own setup and checks.
type fakeGCE struct {
	// endpoint is the compute API base: http://127.0.0.1:PORT/compute/v1/.
	endpoint string
	// host is 127.0.0.1:PORT, the metadata server for GCE_METADATA_HOST.
	host    string
	compute *compute.Service
}

// startFakeGCE runs fake-gce on a free loopback port until the test ends.
func startFakeGCE(t *testing.T) *fakeGCE {
	t.Helper()
	cmd := exec.Command(fakeGCEBinary,
		"--listen", "127.0.0.1:0",
		"--project", project,
		"--region", region,
		"--op-latency", "20ms",
		"--require-token", token, "--metadata-token")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fake-gce: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	// fake-gce names the address it listens on in its first line:
	// "fake-gce: serving the compute API at http://ADDR/compute/v1/ and ...".
	lines := bufio.NewScanner(stderr)
	var endpoint string
	for endpoint == "" && lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), "serving the compute API at "); ok {
			endpoint, _, _ = strings.Cut(rest, " ")
		}
	}
	if endpoint == "" {
		t.Fatalf("fake-gce exited before serving: %v", lines.Err())
	}
	go io.Copy(io.Discard, stderr)
	host := strings.TrimSuffix(strings.TrimPrefix(endpoint, "http://"), "/compute/v1/")
	svc, err := compute.NewService(context.Background(), option.WithEndpoint(endpoint),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeGCE{endpoint: endpoint, host: host, compute: svc}
}

// stateKeys lists every resource fake-gce holds ("collection/name" keys of
// /admin/v1/state), sorted, leaving out operations: the API keeps those
// whatever a client does.
func (f *fakeGCE) stateKeys(t *testing.T) []string {
	t.Helper()
	// With --require-token the admin API needs the token too.
	req, err := http.NewRequest(http.MethodGet, "http://"+f.host+"/admin/v1/state", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("read fake-gce state: %v", err)
	}
	defer resp.Body.Close()
	var state struct {
		Resources map[string]json.RawMessage `json:"resources"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		t.Fatalf("decode fake-gce state: %v", err)
	}
	keys := make([]string, 0, len(state.Resources))
	for k := range state.Resources {
		if !strings.Contains(k, "/operations/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// wait returns a function that waits for the operation a call started,
// through the API's own wait method: f.wait(t, "insert x")(call.Do()).
func (f *fakeGCE) wait(t *testing.T, what string) func(*compute.Operation, error) {
	return func(op *compute.Operation, err error) { f.waitOperation(t, what, op, err) }
}

func (f *fakeGCE) waitOperation(t *testing.T, what string, op *compute.Operation, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for op.Status != "DONE" {
		name := op.Name
		switch {
		case op.Zone != "":
			op, err = f.compute.ZoneOperations.Wait(project, lastSegment(op.Zone), name).Do()
		case op.Region != "":
			op, err = f.compute.RegionOperations.Wait(project, lastSegment(op.Region), name).Do()
		default:
			op, err = f.compute.GlobalOperations.Wait(project, name).Do()
		}
		if err != nil {
			t.Fatalf("%s: wait for %s: %v", what, name, err)
		}
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		t.Fatalf("%s: operation %s failed: %s", what, op.Name, op.Error.Errors[0].Message)
	}
}

func lastSegment(link string) string { return link[strings.LastIndex(link, "/")+1:] }

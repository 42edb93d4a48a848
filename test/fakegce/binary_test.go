package fakegce_test

// Helpers that build cmd/fake-gce and run it as a user does: a process on a
// loopback port, stopped with a signal.

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
)

// buildFakeGCE compiles cmd/fake-gce into a temporary directory.
func buildFakeGCE(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fake-gce")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/cloud-provider-vpc/cloud-provider-vpc/cmd/fake-gce")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/fake-gce: %v\n%s", err, out)
	}
	return bin
}

// fakeProcess is a running fake-gce binary.
type fakeProcess struct {
	cmd     *exec.Cmd
	addr    string // host:port it serves on
	compute *compute.Service
	project string
	exited  chan struct{}
	mu      sync.Mutex
	stderr  strings.Builder
}

var servingLine = regexp.MustCompile(`serving the compute API at http://([^/]+)/compute/v1/`)

// runFakeGCE starts the binary on a free loopback port and waits until it serves.
func runFakeGCE(t *testing.T, bin string, args ...string) *fakeProcess {
	t.Helper()
	p := &fakeProcess{project: "fake-project", exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("fake-gce exited before serving: %s", p.errText())
	case <-time.After(20 * time.Second):
		t.Fatalf("fake-gce did not start serving in 20s: %s", p.errText())
	}
	p.compute, err = compute.NewService(context.Background(),
		option.WithEndpoint("http://"+p.addr+"/compute/v1/"), option.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *fakeProcess) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill sends SIGKILL: the process gets no chance to flush or close anything.
func (p *fakeProcess) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.exited
}

// waitOp returns a function that waits for a mutation's operation on the
// process's fake and fails the test when it failed: p.waitOp(t)(call.Do()).
func (p *fakeProcess) waitOp(t *testing.T) func(*compute.Operation, error) *compute.Operation {
	return func(op *compute.Operation, err error) *compute.Operation {
		t.Helper()
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		for op.Status != "DONE" {
			switch {
			case op.Zone != "":
				op, err = p.compute.ZoneOperations.Wait(p.project, lastSegment(op.Zone), op.Name).Do()
			case op.Region != "":
				op, err = p.compute.RegionOperations.Wait(p.project, lastSegment(op.Region), op.Name).Do()
			default:
				op, err = p.compute.GlobalOperations.Wait(p.project, op.Name).Do()
			}
			if err != nil {
				t.Fatalf("wait: %v", err)
			}
		}
		if op.Error != nil {
			t.Fatalf("operation %s failed: %s", op.Name, opErrorText(op))
		}
		return op
	}
}

func TestTheBinaryReadsFaultRulesFromAFile(t *testing.T) {
	bin := buildFakeGCE(t)
	dir := t.TempDir()
	faults := filepath.Join(dir, "faults.json")
	if err := os.WriteFile(faults, []byte(`{"rules":[{"method":"compute.zones.get","code":503,"count":1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := runFakeGCE(t, bin, "--faults", faults, "--seed", "3")
	_, err := p.compute.Zones.Get(p.project, zone).Do()
	if code, reason := apiError(t, err); code != 503 || reason != "backendError" {
		t.Errorf("first zones.get = %d %s, want 503 backendError from the faults file", code, reason)
	}
	if _, err := p.compute.Zones.Get(p.project, zone).Do(); err != nil {
		t.Errorf("second zones.get = %v, want success after count 1", err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"path":"(","code":500}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--listen", "127.0.0.1:0", "--faults", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "fault rule 0") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("start with a bad faults file = %v, output %q; want exit status 1 and one line naming the rule", err, out)
	}
}

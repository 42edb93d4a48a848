package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fake-gce")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("fake-gce --help: %v\n%s", err, out)
	}
	help := string(out)
	for _, flag := range []struct{ name, says string }{
		{"listen", "host:port"},
		{"project", "repeatable"},
		{"region", "region"},
		{"zones", "zones"},
		{"state-file", "restarts"},
		{"op-latency", "RUNNING before DONE"},
		{"external-ip-range", "external addresses"},
		{"require-token", "Bearer"},
		{"faults", "fault rules"},
		{"seed", "seed"},
		{"metadata-token", "require-token"},
		{"allowed-host", "Host"},
		{"max-calls", "call log"},
		{"max-call-bytes", "call log"},
	} {
		i := strings.Index(help, "  -"+flag.name+" ")
		if i < 0 {
			i = strings.Index(help, "  -"+flag.name+"\n")
		}
		if i < 0 {
			t.Errorf("--help does not list -%s", flag.name)
			continue
		}
		// A flag's text runs until the next flag.
		text := help[i+3:]
		if j := strings.Index(text, "\n  -"); j >= 0 {
			text = text[:j]
		}
		if !strings.Contains(text, flag.says) {
			t.Errorf("--help for -%s is %q, want it to mention %q", flag.name, text, flag.says)
		}
	}
	for _, endpoint := range []string{"/compute/v1/", "/computeMetadata/v1/", "/admin/v1/calls", "/admin/v1/faults", "/admin/v1/reset", "/admin/v1/state", "/admin/v1/generation", "/admin/v1/health", "/healthz", "/metrics"} {
		if !strings.Contains(help, endpoint) {
			t.Errorf("--help does not mention %s", endpoint)
		}
	}
}

func TestBadArgumentsStopTheBinaryWithOneLine(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a positional argument", []string{"serve"}, `unexpected argument "serve"`},
		{"a project id that is too short", []string{"--project", "p"}, `project "p"`},
		{"a zone outside every region", []string{"--zones", "europe-west1-b"}, `zone "europe-west1-b"`},
		{"an external range that is no CIDR", []string{"--external-ip-range", "nope"}, `external IP range "nope"`},
		{"a negative operation latency", []string{"--op-latency", "-1s"}, "must not be negative"},
		{"a faults file that does not exist", []string{"--faults", "/nonexistent/faults.json"}, "--faults"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, tc.args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("exit = %v, want status 1", err)
			}
			if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr = %q, want one line saying %s", stderr.String(), tc.want)
			}
		})
	}
}

// serve runs the binary on a free loopback port until the test ends and
// returns its host:port.
func serve(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), "serving the compute API at http://"); ok {
			go io.Copy(io.Discard, stderr)
			host, _, _ := strings.Cut(rest, "/")
			return host
		}
	}
	t.Fatalf("fake-gce exited before serving: %v", lines.Err())
	return ""
}

func get(t *testing.T, host, url string, headers ...string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTheMetadataServerHandsOutTheRequiredTokenOnlyWithMetadataToken(t *testing.T) {
	bin := buildBinary(t)
	const token = "ci-token"
	tokenURL := func(addr string) string {
		return "http://" + addr + "/computeMetadata/v1/instance/service-accounts/default/token"
	}
	addr := serve(t, bin, "--require-token", token)
	if code := get(t, addr, tokenURL(addr), "Metadata-Flavor: Google"); code != http.StatusNotFound {
		t.Errorf("token without --metadata-token = %d, want 404", code)
	}
	if code := get(t, addr, "http://"+addr+"/admin/v1/state"); code != http.StatusUnauthorized {
		t.Errorf("GET /admin/v1/state without the token = %d, want 401", code)
	}
	addr = serve(t, bin, "--require-token", token, "--metadata-token")
	if code := get(t, addr, tokenURL(addr), "Metadata-Flavor: Google"); code != http.StatusOK {
		t.Errorf("token with --metadata-token = %d, want 200", code)
	}
}

func TestAllowedHostAddsANameRequestsMayCarry(t *testing.T) {
	bin := buildBinary(t)
	addr := serve(t, bin, "--allowed-host", "fake-gce.ci.internal")
	_, port, _ := strings.Cut(addr, ":")
	for host, want := range map[string]int{
		"fake-gce.ci.internal:" + port:    http.StatusOK,
		"localhost:" + port:               http.StatusOK,
		"rebind.attacker.example:" + port: http.StatusForbidden,
	} {
		if code := get(t, host, "http://"+addr+"/admin/v1/state"); code != want {
			t.Errorf("GET /admin/v1/state with Host %s = %d, want %d", host, code, want)
		}
	}
}

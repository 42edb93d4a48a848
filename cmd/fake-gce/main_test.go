package main

import (
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

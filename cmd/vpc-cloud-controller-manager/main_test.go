package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildCCM builds the command once per test binary run.
func buildCCM(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vpc-cloud-controller-manager")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// run runs the command to its exit. Its deadline is a failsafe against a
// hung process, not a check of how long it takes.
func run(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("still running when the failsafe deadline passed; stderr ends %q", lastLine(e.String()))
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// unreachableKubeconfig points at a port nothing listens on.
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`

// goodConfig ends in [global], so that a test may add keys to it.
const goodConfig = `[compute-api]
no-authentication = true
[global]
project-id = fake-project
local-zone = us-central1-a
network-name = vpc
node-tags = k8s-node
api-endpoint = http://127.0.0.1:1/compute/v1/
`

func TestCommand(t *testing.T) {
	bin := buildCCM(t)
	kubeconfig := writeFile(t, "kubeconfig", unreachableKubeconfig)

	t.Run("help lists the standard cloud-controller-manager flags", func(t *testing.T) {
		out, _, code := run(t, bin, "--help")
		if code != 0 {
			t.Fatalf("--help exited %d", code)
		}
		for _, flag := range []string{"--cloud-provider", "--cloud-config", "--kubeconfig", "--leader-elect", "--controllers",
			"--cluster-name", "--cluster-cidr", "--allocate-node-cidrs", "--configure-cloud-routes", "--secure-port",
			"--bind-address", "--apiserver-wait-timeout", "--v"} {
			if !strings.Contains(out, flag+" ") && !strings.Contains(out, flag+"=") {
				t.Errorf("--help does not document %s", flag)
			}
		}
	})

	// hostNetwork puts the secure port on every interface of the node by
	// the upstream default (0.0.0.0), with /healthz unauthenticated and
	// /debug/pprof on: this command listens on loopback and profiles
	// nothing unless told to.
	t.Run("help shows the secure port on loopback and profiling off by default", func(t *testing.T) {
		out, _, _ := run(t, bin, "--help")
		seen := map[string]bool{}
		for _, line := range strings.Split(out, "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			seen[fields[0]] = true
			switch fields[0] {
			case "--bind-address":
				if !strings.HasSuffix(line, "(default 127.0.0.1)") {
					t.Errorf("--bind-address: %q, want the default 127.0.0.1", line)
				}
			case "--profiling":
				if strings.HasSuffix(line, "(default true)") {
					t.Errorf("--profiling: %q, want it off by default", line)
				}
			}
		}
		for _, flag := range []string{"--bind-address", "--profiling"} {
			if !seen[flag] {
				t.Errorf("--help has no line for %s", flag)
			}
		}
	})

	t.Run("help lists the nodeip-service controller with the upstream ones", func(t *testing.T) {
		out, _, _ := run(t, bin, "--help")
		for _, name := range []string{"nodeip-service", "service-lb-controller", "cloud-node-controller"} {
			if !strings.Contains(out, name) {
				t.Errorf("--help does not list the controller %s", name)
			}
		}
	})

	t.Run("a bad cloud config stops it with one line naming the key", func(t *testing.T) {
		cfg := writeFile(t, "gce.conf", "[global]\nproject-id = fake-project\nregional = maybe\n")
		_, stderr, code := run(t, bin, "--cloud-provider=gce", "--cloud-config="+cfg, "--kubeconfig="+kubeconfig, "--apiserver-wait-timeout=0")
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		want := `vpc-cloud-controller-manager: cloud config: [global] regional: "maybe" is not a boolean (want true or false)`
		if last := lastLine(stderr); last != want {
			t.Errorf("last line of stderr = %q, want %q", last, want)
		}
	})

	// A new install's first mistake is often a typo in gce.conf, made while
	// the API server is not reachable yet either: the config is reported at
	// once, not after --apiserver-wait-timeout (a minute by default) has run
	// out. The deadline is a failsafe against a hung process, not the check.
	t.Run("a bad cloud config is reported before waiting for an unreachable API server", func(t *testing.T) {
		cfg := writeFile(t, "gce.conf", "[global]\nproject-id = fake-project\nregional = maybe\n")
		_, stderr, code := run(t, bin, "--cloud-provider=gce", "--cloud-config="+cfg, "--kubeconfig="+kubeconfig)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		want := `vpc-cloud-controller-manager: cloud config: [global] regional: "maybe" is not a boolean (want true or false)`
		if last := lastLine(stderr); last != want {
			t.Errorf("last line of stderr = %q, want %q", last, want)
		}
	})

	// In a Pod the command has an identity of its own (the in-cluster
	// config), with which the upstream options ask the API server for the
	// extension-apiserver-authentication ConfigMap before the cloud is
	// initialised; --authentication-kubeconfig is that identity outside a
	// Pod. An unknown key is the typo a new install makes.
	t.Run("an unknown cloud config key is reported before the authentication lookup asks an unreachable API server", func(t *testing.T) {
		cfg := writeFile(t, "gce.conf", goodConfig+"node-tag = k8s-node\n")
		_, stderr, code := run(t, bin, "--cloud-provider=gce", "--cloud-config="+cfg, "--kubeconfig="+kubeconfig,
			"--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		want := `vpc-cloud-controller-manager: cloud config: [global] node-tag: unknown key`
		if got := strings.TrimSpace(stderr); got != want {
			t.Errorf("stderr = %q, want the one line %q", got, want)
		}
	})

	t.Run("the default cluster name stops it with one line naming --cluster-name", func(t *testing.T) {
		cfg := writeFile(t, "gce.conf", goodConfig)
		for _, flag := range [][]string{nil, {"--cluster-name=kubernetes"}} {
			args := append([]string{"--cloud-provider=gce", "--cloud-config=" + cfg, "--kubeconfig=" + kubeconfig, "--apiserver-wait-timeout=0"}, flag...)
			_, stderr, code := run(t, bin, args...)
			want := `vpc-cloud-controller-manager: --cluster-name is "kubernetes", the default every cluster that does not set it shares, `
			if last := lastLine(stderr); code != 1 || !strings.HasPrefix(last, want) {
				t.Errorf("with %q: exit %d, last line of stderr = %q, want it to start %q", flag, code, last, want)
			}
		}
	})

	t.Run("an empty cluster name stops it with one line naming --cluster-name", func(t *testing.T) {
		cfg := writeFile(t, "gce.conf", goodConfig)
		_, stderr, code := run(t, bin, "--cloud-provider=gce", "--cloud-config="+cfg, "--cluster-name=", "--kubeconfig="+kubeconfig, "--apiserver-wait-timeout=0")
		want := "vpc-cloud-controller-manager: --cluster-name is empty: "
		if last := lastLine(stderr); code != 1 || !strings.HasPrefix(last, want) {
			t.Errorf("exit %d, last line of stderr = %q, want it to start %q", code, last, want)
		}
	})

	t.Run("with [cluster] allow-default-name the default cluster name goes on to the cloud", func(t *testing.T) {
		// A regional cluster reads its region's zones at start; nothing
		// answers at the config's api-endpoint, so reaching that call
		// shows the name was accepted.
		cfg := writeFile(t, "gce.conf", goodConfig+"regional = true\n[compute-api]\nmax-retries = 0\n[cluster]\nallow-default-name = true\n")
		_, stderr, code := run(t, bin, "--cloud-provider=gce", "--cloud-config="+cfg, "--kubeconfig="+kubeconfig, "--apiserver-wait-timeout=0")
		want := "vpc-cloud-controller-manager: read the zones of region us-central1: "
		if last := lastLine(stderr); code != 1 || !strings.HasPrefix(last, want) {
			t.Errorf("exit %d, last line of stderr = %q, want it to start %q", code, last, want)
		}
	})

	t.Run("another cloud provider name is refused", func(t *testing.T) {
		cfg := writeFile(t, "gce.conf", goodConfig)
		_, stderr, code := run(t, bin, "--cloud-provider=aws", "--cloud-config="+cfg, "--kubeconfig="+kubeconfig, "--apiserver-wait-timeout=0")
		if code != 1 || !strings.Contains(lastLine(stderr), `--cloud-provider="aws": this binary serves "gce"`) {
			t.Errorf("exit %d, stderr ends %q", code, lastLine(stderr))
		}
	})

	t.Run("an unreachable API server stops it with a clear message", func(t *testing.T) {
		cfg := writeFile(t, "gce.conf", goodConfig)
		_, stderr, code := run(t, bin, "--cloud-provider=gce", "--cloud-config="+cfg, "--cluster-name=prod-eu", "--kubeconfig="+kubeconfig, "--apiserver-wait-timeout=2s")
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if last := lastLine(stderr); !strings.HasPrefix(last, "vpc-cloud-controller-manager: cannot reach the Kubernetes API server at https://127.0.0.1:1 within 2s") {
			t.Errorf("last line of stderr = %q", last)
		}
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

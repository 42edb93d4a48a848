package tfe2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// noMirror is the one line said when there is no provider to apply with.
const noMirror = "TF_PROVIDER_MIRROR is not set: apply, plan and destroy against fake-gce need the Google provider " +
	"from a filesystem mirror (docs/terraform.md); only the checks that need no provider run"

// tofu runs the tofu binary with a CLI config of its own: providers only from
// the mirror folder (or from an empty folder, so that nothing is installed).
type tofu struct {
	bin string
	env []string
}

// newTofu finds the tofu binary (TOFU, else _output/bin/tofu) and writes the
// run's CLI config. It skips the test when tofu has not been built.
func newTofu(t *testing.T, mirror string) *tofu {
	t.Helper()
	bin := os.Getenv("TOFU")
	if bin == "" {
		bin = filepath.Join(repoRoot(t), "_output", "bin", "tofu")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s is missing: run make tofu (hack/build-tofu.sh)", bin)
	}
	dir := t.TempDir()
	if mirror == "" {
		mirror = filepath.Join(dir, "no-providers")
		if err := os.Mkdir(mirror, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mirror, err := filepath.Abs(mirror)
	if err != nil {
		t.Fatal(err)
	}
	cliConfig := filepath.Join(dir, "tofu.tfrc")
	if err := os.WriteFile(cliConfig, []byte(cliConfigFor(mirror)), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy, err := unusedLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	return &tofu{bin: bin, env: append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"TF_PLUGIN_CACHE_DIR=",
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		// The Google provider's userinfo request (deploy/terraform/examples/fake-gce).
		"HTTPS_PROXY=http://"+proxy,
		"https_proxy=http://"+proxy,
	)}
}

// cliConfigFor is a CLI config that installs providers from mirror and from
// nowhere else (no direct block: no registry is ever asked).
func cliConfigFor(mirror string) string {
	return fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", mirror)
}

// unusedLoopbackPort is 127.0.0.1:PORT where nothing listens: a port the
// kernel handed out and that was closed again.
func unusedLoopbackPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// run runs tofu in dir and returns its output; when tofu fails, it fails
// the test with that output.
func (tf *tofu) run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code, err := tf.exec(dir, args...)
	if err != nil || code != 0 {
		t.Fatalf("tofu %s (in %s): exit %d %v\n%s", strings.Join(args, " "), dir, code, err, out)
	}
	return out
}

// exec runs tofu and returns its combined output and exit code.
func (tf *tofu) exec(dir string, args ...string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf.bin, append([]string{"-chdir=" + dir}, args...)...)
	cmd.Env = tf.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode(), nil
	}
	return out.String(), 0, err
}

// outputs reads `tofu output -json` into v, a struct of the outputs' values.
func (tf *tofu) outputs(t *testing.T, dir string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf.bin, "-chdir="+dir, "output", "-json")
	cmd.Env = tf.env
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("tofu output -json: %v", err)
	}
	var raw map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("tofu output -json: %v\n%s", err, b)
	}
	values := map[string]json.RawMessage{}
	for k, o := range raw {
		values[k] = o.Value
	}
	b, _ = json.Marshal(values)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("outputs: %v\n%s", err, b)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// copyModule copies deploy/terraform into a new temporary folder and returns
// the copy, so that tofu's state, lock file and .terraform folder never land
// in the work tree. Leftovers of a run by hand are not copied.
func copyModule(t *testing.T) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), "deploy", "terraform")
	dst := filepath.Join(t.TempDir(), "terraform")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		name := d.Name()
		switch {
		case d.IsDir() && name == ".terraform":
			return filepath.SkipDir
		case name == ".terraform.lock.hcl", strings.HasPrefix(name, "terraform.tfstate"):
			return nil
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

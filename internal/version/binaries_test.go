package version_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is where the Makefile is, from this package's directory.
const repoRoot = "../.."

// commands are the shipped binaries and how each is asked its version.
var commands = []struct {
	name string
	args []string
}{
	{"vpc-cloud-controller-manager", []string{"--version"}},
	{"fake-gce", []string{"--version"}},
	{"kubectl-vpc", []string{"--version"}},
	{"kubectl-vpc", []string{"version"}},
}

// makeVersion is what `make version` says the binaries are stamped with.
func makeVersion(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("make", "-s", "-C", repoRoot, "version").Output()
	if err != nil {
		t.Fatalf("make version: %v", err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars[k] = v
		}
	}
	return vars
}

func versionLine(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestEveryBinaryBuiltByTheMakefileReportsTheMakefilesVersionCommitAndDate(t *testing.T) {
	vars := makeVersion(t)
	if !strings.HasPrefix(vars["VERSION"], "v") {
		t.Fatalf("make version: VERSION=%q, want a v-prefixed version", vars["VERSION"])
	}
	bin, err := filepath.Abs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The values make version printed, passed on, so that a commit made
	// between the two makes cannot move them.
	args := []string{"-s", "-C", repoRoot, "build", "BIN=" + bin}
	for _, k := range []string{"VERSION", "GIT_COMMIT", "GIT_TREE_STATE", "BUILD_DATE"} {
		args = append(args, k+"="+vars[k])
	}
	if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, c := range commands {
		got := versionLine(t, filepath.Join(bin, c.name), c.args...)
		want := c.name + " " + vars["VERSION"] + " (commit " + vars["GIT_COMMIT"] + ", built " + vars["BUILD_DATE"] + ", "
		if !strings.HasPrefix(got, want) {
			t.Errorf("%s %s = %q, want it to start %q", c.name, strings.Join(c.args, " "), got, want)
		}
	}
}

func TestEveryBinaryBuiltWithoutTheMakefileIsADevBuild(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin+"/", "./cmd/vpc-cloud-controller-manager", "./cmd/fake-gce", "./cmd/kubectl-vpc")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range commands {
		got := versionLine(t, filepath.Join(bin, c.name), c.args...)
		want := c.name + " v0.0.0-dev (commit unknown, built unknown, go"
		if !strings.HasPrefix(got, want) {
			t.Errorf("%s %s = %q, want it to start %q", c.name, strings.Join(c.args, " "), got, want)
		}
	}
}

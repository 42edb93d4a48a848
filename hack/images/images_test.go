package main

import (
	"archive/tar"
	"bufio"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// testStamp is the build every test here reads back.
var testStamp = stamp{version: "v1.2.3-test", commit: "0123456789abcdef0123456789abcdef01234567", created: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)}

var testPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// Cross-compiling is the expensive part, so the fake-gce image (the smaller
// binary; the CCM's image differs only by its spec, tested below) is built
// once for every test, and a second time into another directory for the
// digest check (the Go build cache makes that one cheap).
var (
	builds    sync.Once
	buildDirs [2]string
	buildErr  error
)

func builtTwice(t *testing.T) (first, second string) {
	t.Helper()
	builds.Do(func() {
		for i := range buildDirs {
			dir, err := os.MkdirTemp("", "images-test-")
			if err != nil {
				buildErr = err
				return
			}
			buildDirs[i] = dir
			o := options{root: "../..", out: dir, stamp: testStamp, platforms: testPlatforms, only: []string{"fake-gce"},
				ldflags: "-s -w -X k8s.io/component-base/version.gitVersion=" + testStamp.version + " -X k8s.io/component-base/version.gitCommit=" + testStamp.commit}
			if buildErr = build(o); buildErr != nil {
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("build the fake-gce image: %v", buildErr)
	}
	return buildDirs[0], buildDirs[1]
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range buildDirs {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// readIndex reads the one index of an image's OCI layout.
func readIndex(t *testing.T, dir string) v1.ImageIndex {
	t.Helper()
	root, err := layout.ImageIndexFromPath(filepath.Join(dir, "fake-gce"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("the layout's index.json has %d entries, want the image's one index", len(m.Manifests))
	}
	if got := m.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != testStamp.version {
		t.Errorf("the layout names its index %q, want the version %q", got, testStamp.version)
	}
	idx, err := root.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func platformImage(t *testing.T, idx v1.ImageIndex, arch string) v1.Image {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.Architecture == arch {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("the index has no linux/%s image", arch)
	return nil
}

// files reads the named files from the image's flattened file system.
func files(t *testing.T, img v1.Image, names ...string) map[string][]byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if want[h.Name] {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = b
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			t.Errorf("the image has no file %s", n)
		}
	}
	return out
}

func TestTheFakeGCEImageIsOneIndexForLinuxAmd64AndArm64(t *testing.T) {
	dir, _ := builtTwice(t)
	m, err := readIndex(t, dir).IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range m.Manifests {
		got = append(got, d.Platform.String())
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, got); diff != "" {
		t.Errorf("platforms of the index (-want +got):\n%s", diff)
	}
	if m.Annotations["org.opencontainers.image.revision"] != testStamp.commit {
		t.Errorf("index annotations %v, want the revision %s", m.Annotations, testStamp.commit)
	}
}

func TestEveryPlatformsImageRunsFakeGCEAsNonrootOnEveryInterfaceWithOCILabels(t *testing.T) {
	dir, _ := builtTwice(t)
	idx := readIndex(t, dir)
	for _, p := range testPlatforms {
		cfg, err := platformImage(t, idx, p.Architecture).ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OS != p.OS || cfg.Architecture != p.Architecture {
			t.Errorf("%s: config says %s/%s", p, cfg.OS, cfg.Architecture)
		}
		if diff := cmp.Diff([]string{"/usr/local/bin/fake-gce", "--listen=0.0.0.0:8085"}, cfg.Config.Entrypoint); diff != "" {
			t.Errorf("%s: entrypoint (-want +got):\n%s", p, diff)
		}
		if cfg.Config.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532", p, cfg.Config.User)
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.source":   "https://github.com/cloud-provider-vpc/cloud-provider-vpc",
			"org.opencontainers.image.revision": testStamp.commit,
			"org.opencontainers.image.version":  testStamp.version,
			"org.opencontainers.image.created":  "2026-12-07T06:00:00Z",
		} {
			if got := cfg.Config.Labels[k]; got != want {
				t.Errorf("%s: label %s = %q, want %q", p, k, got, want)
			}
		}
		if !cfg.Created.Time.Equal(testStamp.created) {
			t.Errorf("%s: created %s, want the commit's time %s", p, cfg.Created.Time, testStamp.created)
		}
	}
}

func TestTheImageHasItsUserAndCACertificates(t *testing.T) {
	dir, _ := builtTwice(t)
	got := files(t, platformImage(t, readIndex(t, dir), "amd64"), "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt")
	if !strings.Contains(string(got["etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("etc/passwd has no nonroot user 65532:\n%s", got["etc/passwd"])
	}
	if !strings.Contains(string(got["etc/group"]), "nonroot:x:65532:") {
		t.Errorf("etc/group has no nonroot group 65532:\n%s", got["etc/group"])
	}
	n, rest := 0, got["etc/ssl/certs/ca-certificates.crt"]
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Errorf("certificate %d: %v", n, err)
		}
		n++
	}
	// Mozilla's root store has well over a hundred roots.
	if n < 100 || len(strings.TrimSpace(string(rest))) > 0 {
		t.Errorf("ca-certificates.crt: %d certificates and %d bytes that are not one", n, len(rest))
	}
}

func TestTheAmd64BinaryTakenOutOfItsLayerReportsTheStampedVersion(t *testing.T) {
	dir, _ := builtTwice(t)
	got := files(t, platformImage(t, readIndex(t, dir), "amd64"), "usr/local/bin/fake-gce")
	bin := filepath.Join(t.TempDir(), "fake-gce")
	if err := os.WriteFile(bin, got["usr/local/bin/fake-gce"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("fake-gce --version: %v\n%s", err, out)
	}
	want := "fake-gce " + testStamp.version + " (commit " + testStamp.commit + ", "
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("fake-gce --version = %q, want it to start %q", out, want)
	}
}

// A container's args come after the image's entrypoint (docs/ci.md: a
// GitLab service's command, docker run IMAGE ARGS), so they add flags to
// it, and a later --listen wins over the image's 0.0.0.0:8085.
func TestTheAmd64BinaryRunAsTheEntrypointWithAContainersArgsServesTheirProject(t *testing.T) {
	dir, _ := builtTwice(t)
	img := platformImage(t, readIndex(t, dir), "amd64")
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	entrypoint := cfg.Config.Entrypoint
	got := files(t, img, strings.TrimPrefix(entrypoint[0], "/"))
	bin := filepath.Join(t.TempDir(), "fake-gce")
	if err := os.WriteFile(bin, got[strings.TrimPrefix(entrypoint[0], "/")], 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(entrypoint[1:], "--project=my-project", "--listen=127.0.0.1:0")...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil {
		t.Fatalf("fake-gce's first line: %v", err)
	}
	_, rest, ok := strings.Cut(line, "serving the compute API at ")
	endpoint, _, _ := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Fatalf("fake-gce's first line %q does not name a compute endpoint on 127.0.0.1", line)
	}
	resp, err := http.Get(endpoint + "projects/my-project")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var project struct{ Name string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &project) != nil || project.Name != "my-project" {
		t.Errorf("GET %sprojects/my-project: %s %s, want the project my-project", endpoint, resp.Status, body)
	}
}

func TestTwoBuildsOfOneCommitHaveOneDigest(t *testing.T) {
	first, second := builtTwice(t)
	a, err := readIndex(t, first).Digest()
	if err != nil {
		t.Fatal(err)
	}
	b, err := readIndex(t, second).Digest()
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("index digests %s and %s, want one", a, b)
	}
	t.Logf("fake-gce index digest of both builds: %s", a)
}

// A docker tarball's manifest is docker's (manifest.json), so its image
// has another manifest digest than the OCI one; the config and the layers,
// which docker load keeps, are the same blobs.
func TestTheDockerTarballHoldsTheSameImageAsTheIndexTaggedWithTheVersion(t *testing.T) {
	dir, _ := builtTwice(t)
	for _, p := range testPlatforms {
		tag, err := name.NewTag("cloud-provider-vpc/fake-gce:" + testStamp.version)
		if err != nil {
			t.Fatal(err)
		}
		fromTar, err := tarball.ImageFromPath(filepath.Join(dir, "fake-gce-linux-"+p.Architecture+".tar"), &tag)
		if err != nil {
			t.Fatalf("%s: read the docker tarball by its tag: %v", p, err)
		}
		if diff := cmp.Diff(blobs(t, platformImage(t, readIndex(t, dir), p.Architecture)), blobs(t, fromTar)); diff != "" {
			t.Errorf("%s: config and layer digests, OCI layout (-) and docker tarball (+):\n%s", p, diff)
		}
	}
}

// blobs are the digests of an image's config and layers.
func blobs(t *testing.T, img v1.Image) []string {
	t.Helper()
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{cfg.String()}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

func TestSpecs(t *testing.T) {
	for _, tt := range []struct {
		name           string
		image          string
		wantEntrypoint []string
	}{
		{
			name:           "the CCM's image runs the binary alone, so that a Deployment's args are its flags",
			image:          "vpc-cloud-controller-manager",
			wantEntrypoint: []string{"/usr/local/bin/vpc-cloud-controller-manager"},
		},
		{
			name:           "fake-gce's image listens on every interface, its container's args come after",
			image:          "fake-gce",
			wantEntrypoint: []string{"/usr/local/bin/fake-gce", "--listen=0.0.0.0:8085"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := options{only: []string{tt.image}}
			s, err := o.selected()
			if err != nil {
				t.Fatal(err)
			}
			cfg := s[0].config(testStamp, v1.Platform{OS: "linux", Architecture: "arm64"})
			if diff := cmp.Diff(tt.wantEntrypoint, cfg.Config.Entrypoint); diff != "" {
				t.Errorf("entrypoint (-want +got):\n%s", diff)
			}
			if cfg.Config.User != "65532:65532" || cfg.Architecture != "arm64" {
				t.Errorf("user %q, architecture %q", cfg.Config.User, cfg.Architecture)
			}
		})
	}
}

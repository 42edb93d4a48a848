package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

var testTime = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

func TestIsRelease(t *testing.T) {
	for _, tt := range []struct {
		version string
		want    bool
	}{
		{"v0.2.0", true},
		{"v1.10.3", true},
		{"v0.2.0-rc.1", true},
		{"v0.2.0-3-g0123abc", false},
		{"v0.2.0-dirty", false},
		{"v0.0.0-dev", false},
		{"v0.0.0-dev-g874e172-dirty", false},
		{"0.2.0", false},
	} {
		if got := isRelease(tt.version); got != tt.want {
			t.Errorf("isRelease(%q) = %v, want %v", tt.version, got, tt.want)
		}
	}
}

func TestTwoArchivesOfTheSameFilesAreTheSameBytes(t *testing.T) {
	files := map[string][]byte{"kubectl-vpc": []byte("binary"), "README": []byte("text")}
	a, err := archive(files, testTime)
	if err != nil {
		t.Fatal(err)
	}
	b, err := archive(files, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two archives of the same files differ")
	}
	got := untar(t, a)
	if diff := cmp.Diff(map[string]string{"README": "text", "kubectl-vpc": "binary"}, got); diff != "" {
		t.Errorf("archive contents (-want +got):\n%s", diff)
	}
}

func untar(t *testing.T, gz []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}

func TestSHA256SUMSIsWhatSha256sumWrites(t *testing.T) {
	got := sha256Sums(map[string][]byte{"b.tar.gz": []byte("b"), "a.tar.gz": []byte("a")})
	want := "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  a.tar.gz\n" +
		"3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b.tar.gz\n"
	if got != want {
		t.Errorf("sha256Sums =\n%s\nwant\n%s", got, want)
	}
}

func TestTheKrewManifestNamesEachArchiveWithItsChecksum(t *testing.T) {
	b, err := krewManifest("v0.2.0", "https://example.test/v0.2.0/", []krewArchive{
		{goos: "linux", goarch: "amd64", name: "kubectl-vpc_v0.2.0_linux_amd64.tar.gz", sha256: "aa"},
		{goos: "darwin", goarch: "arm64", name: "kubectl-vpc_v0.2.0_darwin_arm64.tar.gz", sha256: "bb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got krewPlugin
	if err := yaml.UnmarshalStrict(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []krewPlatform{
		{Selector: krewSelector{MatchLabels: map[string]string{"os": "linux", "arch": "amd64"}}, URI: "https://example.test/v0.2.0/kubectl-vpc_v0.2.0_linux_amd64.tar.gz", SHA256: "aa", Bin: "kubectl-vpc"},
		{Selector: krewSelector{MatchLabels: map[string]string{"os": "darwin", "arch": "arm64"}}, URI: "https://example.test/v0.2.0/kubectl-vpc_v0.2.0_darwin_arm64.tar.gz", SHA256: "bb", Bin: "kubectl-vpc"},
	}
	if diff := cmp.Diff(want, got.Spec.Platforms); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	if got.Metadata.Name != "vpc" || got.Spec.Version != "v0.2.0" || got.Kind != "Plugin" || got.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" {
		t.Errorf("manifest head: %+v %+v", got.Metadata, got.Spec.Version)
	}
}

// testChart is the shape of the chart's Chart.yaml that setImageTag edits:
// a comment, then top-level version and appVersion lines.
const testChart = `# appVersion is the CCM release this chart runs.
apiVersion: v2
name: cloud-provider-vpc
version: 0.1.0
appVersion: v0.1.0
kubeVersion: ">=1.29.0-0"
`

// testModule copies testdata/module and deploy/base into a temporary
// directory, with testChart as the chart: a module root a release can build
// from and a test may rewrite.
func testModule(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/module")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(root, "deploy", "base"), os.DirFS("../../deploy/base")); err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, chartPath)
	if err := os.MkdirAll(filepath.Dir(chart), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chart, []byte(testChart), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestTheCommittedImageTagIsARelease(t *testing.T) {
	tag, err := imageTag("../../" + kustomizationPath)
	if err != nil {
		t.Fatal(err)
	}
	if !isRelease(tag) {
		t.Errorf("deploy/base's image tag %q is not a release version", tag)
	}
}

func TestSetImageTagRewritesOnlyTheTagAndTheChartsVersions(t *testing.T) {
	root := testModule(t)
	path := filepath.Join(root, kustomizationPath)
	before, _ := os.ReadFile(path)
	old, err := imageTag(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := setImageTag(root, "v9.8.7-rc.1"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if want := strings.Replace(string(before), "newTag: "+old, "newTag: v9.8.7-rc.1", 1); string(after) != want {
		t.Errorf("setImageTag's kustomization (-want +got):\n%s", cmp.Diff(want, string(after)))
	}
	chart, _ := os.ReadFile(filepath.Join(root, chartPath))
	want := strings.Replace(strings.Replace(testChart, "version: 0.1.0", "version: 9.8.7-rc.1", 1), "appVersion: v0.1.0", "appVersion: v9.8.7-rc.1", 1)
	if diff := cmp.Diff(want, string(chart)); diff != "" {
		t.Errorf("setImageTag's Chart.yaml (-want +got):\n%s", diff)
	}
}

func TestSetImageTagWritesNothingWhenTheChartHasNoAppVersion(t *testing.T) {
	root := testModule(t)
	if err := os.WriteFile(filepath.Join(root, chartPath), []byte("apiVersion: v2\nversion: 0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(root, kustomizationPath))
	err := setImageTag(root, "v9.8.7")
	if want := chartPath + ": want exactly one top-level appVersion line, found 0"; err == nil || err.Error() != want {
		t.Errorf("setImageTag = %v, want %q", err, want)
	}
	if after, _ := os.ReadFile(filepath.Join(root, kustomizationPath)); string(after) != string(before) {
		t.Errorf("the kustomization was written although the chart could not be")
	}
}

func TestAReleaseVersionThatIsNotDeployBasesImageTagIsRefused(t *testing.T) {
	root := testModule(t)
	if err := setImageTag(root, "v0.1.0"); err != nil {
		t.Fatal(err)
	}
	err := release(options{root: root, out: t.TempDir(), version: "v0.2.0"})
	want := "deploy/base/kustomization.yaml: images newTag is v0.1.0, not the release's v0.2.0: run make set-image-tag VERSION=v0.2.0 and commit it before tagging"
	if err == nil || err.Error() != want {
		t.Errorf("release = %v, want %q", err, want)
	}
}

func TestBadFlagsAreRefusedWithOneLine(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a platform without an architecture", []string{"-platforms", "linux/amd64,linux"}, `-platforms: "linux" is not GOOS/GOARCH`},
		{"a platform with a variant", []string{"-platforms", "linux/arm/v7"}, `-platforms: "linux/arm/v7" is not GOOS/GOARCH`},
		{"a time that is not RFC 3339", []string{"-created", "yesterday"}, `-created: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{"an image tag that is not a release", []string{"-set-image-tag", "v0.2.0-3-g0123abc"}, `-set-image-tag: "v0.2.0-3-g0123abc" is not a release version (vX.Y.Z or vX.Y.Z-rc.N)`},
		{"an argument", []string{"v0.2.0"}, `unexpected arguments ["v0.2.0"]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args)
			if err == nil || err.Error() != tt.want {
				t.Errorf("run(%q) = %v, want %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestAnOutputDirectoryHoldingTheSourceIsRefused(t *testing.T) {
	root := testModule(t)
	for _, out := range []string{root, filepath.Dir(root)} {
		err := release(options{root: root, out: out, version: "v0.0.0-dev",
			platforms: []platform{{"linux", "amd64"}}, commands: []string{"kubectl-vpc"}})
		if err == nil || !strings.HasSuffix(err.Error(), "it holds the module's source and would be emptied") {
			t.Errorf("release with -out %s = %v", out, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("the module's go.mod after the refused releases: %v", err)
	}
}

// TestAReleaseShipsArchivesChecksumsAndTheKrewManifest runs a release of the
// stand-in kubectl-vpc of testdata/module for two platforms: the real
// commands are the same go build, and make release builds them.
func TestAReleaseShipsArchivesChecksumsAndTheKrewManifest(t *testing.T) {
	root := testModule(t)
	out := filepath.Join(t.TempDir(), "release")
	version := "v0.0.0-test-g0123abc"
	o := options{root: root, out: out, version: version, created: testTime, urlBase: "https://example.test/",
		ldflags:   "-X main.version=" + version,
		platforms: []platform{{"linux", "amd64"}, {"darwin", "arm64"}}, commands: []string{"kubectl-vpc"}}
	if err := release(o); err != nil {
		t.Fatal(err)
	}

	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	linux, darwin := archiveName("kubectl-vpc", version, "linux", "amd64"), archiveName("kubectl-vpc", version, "darwin", "arm64")
	if diff := cmp.Diff([]string{"SHA256SUMS", darwin, linux, "vpc.yaml"}, names); diff != "" {
		t.Errorf("the release's files (-want +got):\n%s", diff)
	}

	sums := exec.Command("sha256sum", "-c", "SHA256SUMS")
	sums.Dir = out
	if b, err := sums.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, b)
	}

	a, err := os.ReadFile(filepath.Join(out, linux))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "kubectl-vpc")
	if err := os.WriteFile(bin, []byte(untar(t, a)["kubectl-vpc"]), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(bin).CombinedOutput(); err != nil || string(b) != "kubectl-vpc "+version+"\n" {
		t.Errorf("the linux/amd64 kubectl-vpc from its archive says %q (%v), want its version %s", b, err, version)
	}

	var krew krewPlugin
	m, err := os.ReadFile(filepath.Join(out, "vpc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(m, &krew); err != nil {
		t.Fatal(err)
	}
	var want []krewPlatform
	for _, a := range []struct{ goos, goarch, name string }{{"linux", "amd64", linux}, {"darwin", "arm64", darwin}} {
		b, err := os.ReadFile(filepath.Join(out, a.name))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, krewPlatform{Selector: krewSelector{MatchLabels: map[string]string{"os": a.goos, "arch": a.goarch}},
			URI: "https://example.test/" + a.name, SHA256: sha256Hex(b), Bin: "kubectl-vpc"})
	}
	if diff := cmp.Diff(want, krew.Spec.Platforms); diff != "" {
		t.Errorf("the krew manifest's platforms (-want +got):\n%s", diff)
	}

	// Built again from the same source, the release is the same bytes.
	again := filepath.Join(t.TempDir(), "release")
	o.out = again
	if err := release(o); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	second, _ := os.ReadFile(filepath.Join(again, "SHA256SUMS"))
	if diff := cmp.Diff(string(first), string(second)); diff != "" {
		t.Errorf("SHA256SUMS of two releases of one source (-first +second):\n%s", diff)
	}
}

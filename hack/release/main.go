// Command release builds the files a release of this project publishes, into
// one directory: each command (vpc-cloud-controller-manager, fake-gce,
// kubectl-vpc) for linux and darwin on amd64 and arm64, as reproducible
// .tar.gz archives; vpc.yaml, the krew manifest of kubectl-vpc built from
// those archives and their checksums; and SHA256SUMS of them all. The
// images are hack/images' (make release runs make images first); they are
// pushed to a registry, not published as files.
//
// A release version (vX.Y.Z, vX.Y.Z-rc.N) must be the image tag
// deploy/base/kustomization.yaml names, so that a kustomization that refers
// to deploy/base at the release's git tag runs the release's image;
// -set-image-tag writes it there, and as the Helm chart's appVersion, before
// the tag is made (docs/releasing.md).
//
//	go run ./hack/release -out _output/release -version v0.2.0 -created 2026-12-07T06:00:00Z -ldflags '...'
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// source is the project's home, where releases are published.
const source = "https://github.com/cloud-provider-vpc/cloud-provider-vpc"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

type options struct {
	root      string // the module's directory, where ./cmd is
	out       string
	version   string
	created   time.Time
	ldflags   string
	platforms []platform
	commands  []string
	urlBase   string
}

type platform struct{ goos, goarch string }

func run(args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	out := fs.String("out", "_output/release", "directory for the release's files (emptied first)")
	version := fs.String("version", "v0.0.0-dev", "the release's version (the Makefile's VERSION)")
	created := fs.String("created", "1970-01-01T00:00:00Z", "RFC 3339 time of every archived file (the commit's time)")
	ldflags := fs.String("ldflags", "", "-ldflags of every go build (the Makefile's LDFLAGS)")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64", "comma-separated GOOS/GOARCH")
	commands := fs.String("commands", "vpc-cloud-controller-manager,fake-gce,kubectl-vpc", "comma-separated commands under ./cmd")
	urlBase := fs.String("url-base", "", "where the archives are downloaded from (default the project's release page for -version)")
	setTag := fs.String("set-image-tag", "", "only write this release version as deploy/base's image tag and the Helm chart's appVersion, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o := options{root: ".", out: *out, version: *version, ldflags: *ldflags, urlBase: *urlBase,
		commands: strings.Split(*commands, ",")}
	if *setTag != "" {
		if !isRelease(*setTag) {
			return fmt.Errorf("-set-image-tag: %q is not a release version (vX.Y.Z or vX.Y.Z-rc.N)", *setTag)
		}
		return setImageTag(o.root, *setTag)
	}
	for _, p := range strings.Split(*platforms, ",") {
		goos, goarch, _ := strings.Cut(p, "/")
		if goos == "" || goarch == "" || strings.Contains(goarch, "/") {
			return fmt.Errorf("-platforms: %q is not GOOS/GOARCH", p)
		}
		o.platforms = append(o.platforms, platform{goos, goarch})
	}
	t, err := time.Parse(time.RFC3339, *created)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	o.created = t
	if o.urlBase == "" {
		o.urlBase = source + "/releases/download/" + o.version + "/"
	}
	return release(o)
}

// isRelease reports whether version names a release rather than a build
// between releases (git describe's v0.2.0-3-g0123abc, -dirty, -dev).
var isRelease = regexp.MustCompile(`^v\d+\.\d+\.\d+(-(alpha|beta|rc)\.\d+)?$`).MatchString

func release(o options) error {
	if isRelease(o.version) {
		tag, err := imageTag(filepath.Join(o.root, kustomizationPath))
		if err != nil {
			return err
		}
		if tag != o.version {
			return fmt.Errorf("%s: images newTag is %s, not the release's %s: run make set-image-tag VERSION=%s and commit it before tagging", kustomizationPath, tag, o.version, o.version)
		}
	}
	if err := checkOut(o.root, o.out); err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "release-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	start := time.Now()
	files := map[string][]byte{}
	var krew []krewArchive
	for _, cmd := range o.commands {
		for _, p := range o.platforms {
			built := time.Now()
			bin := filepath.Join(binDir, cmd+"-"+p.goos+"-"+p.goarch)
			if err := goBuild(o.root, cmd, p, o.ldflags, bin); err != nil {
				return err
			}
			b, err := os.ReadFile(bin)
			if err != nil {
				return err
			}
			a, err := archive(map[string][]byte{cmd: b}, o.created)
			if err != nil {
				return err
			}
			name := archiveName(cmd, o.version, p.goos, p.goarch)
			files[name] = a
			if cmd == "kubectl-vpc" {
				krew = append(krew, krewArchive{goos: p.goos, goarch: p.goarch, name: name, sha256: sha256Hex(a)})
			}
			fmt.Printf("%s %.1f MB (binary %.1f MB, built in %s)\n", name, float64(len(a))/1e6, float64(len(b))/1e6, time.Since(built).Round(time.Second))
		}
	}
	if len(krew) > 0 {
		m, err := krewManifest(o.version, o.urlBase, krew)
		if err != nil {
			return err
		}
		files["vpc.yaml"] = m
	}
	files["SHA256SUMS"] = []byte(sha256Sums(files))
	if err := os.RemoveAll(o.out); err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(o.out, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d files with SHA256SUMS, built in %s\n", o.out, len(files), time.Since(start).Round(time.Second))
	return nil
}

// checkOut refuses an output directory that holds the module, as emptying
// it would remove the source.
func checkOut(root, out string) error {
	if out == "" {
		return errors.New("-out is empty")
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(absOut, absRoot); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("-out %s: it holds the module's source and would be emptied", out)
	}
	return nil
}

// goBuild cross-compiles ./cmd/NAME as a static binary without local paths
// or VCS stamps (the version comes from ldflags), so that its bytes depend
// only on the source and the toolchain.
func goBuild(root, cmdName string, p platform, ldflags, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/"+cmdName)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.goos, "GOARCH="+p.goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/%s for %s/%s: %w", cmdName, p.goos, p.goarch, err)
	}
	return nil
}

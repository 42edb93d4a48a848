// Command images builds this project's container images without a container
// runtime: each command of specs is cross-compiled as a static binary for
// every platform, put FROM scratch beside CA certificates and a nonroot user,
// and written as one multi-platform OCI layout per image and a tarball per
// platform that `docker load` reads. Every byte comes from the commit (the
// -created time is the commit's), so two builds of a commit have one digest.
//
//	go run ./hack/images -out _output/images -version v0.2.0 -commit SHA -created 2026-12-07T06:00:00Z -ldflags '...'
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

// options are the flags of one build.
type options struct {
	root      string // the module's directory, where ./cmd is
	out       string
	stamp     stamp
	ldflags   string
	platforms []v1.Platform
	only      []string
}

func run(args []string) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	out := fs.String("out", "_output/images", "directory for the OCI layouts and the docker tarballs")
	version := fs.String("version", "v0.0.0-dev", "image tag and org.opencontainers.image.version")
	commit := fs.String("commit", "", "org.opencontainers.image.revision")
	created := fs.String("created", "1970-01-01T00:00:00Z", "RFC 3339 time of every file and of the image (the commit's time)")
	ldflags := fs.String("ldflags", "", "-ldflags of every go build (the Makefile's LDFLAGS)")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated OS/ARCH of the images")
	only := fs.String("images", "", "comma-separated images to build (default every one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, *created)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	o := options{root: ".", out: *out, stamp: stamp{version: *version, commit: *commit, created: t}, ldflags: *ldflags}
	for _, p := range strings.Split(*platforms, ",") {
		plat, err := v1.ParsePlatform(p)
		if err != nil || plat.OS == "" || plat.Architecture == "" {
			return fmt.Errorf("-platforms: %q is not OS/ARCH", p)
		}
		o.platforms = append(o.platforms, *plat)
	}
	if *only != "" {
		o.only = strings.Split(*only, ",")
	}
	return build(o)
}

// selected are the specs o names.
func (o options) selected() ([]spec, error) {
	if len(o.only) == 0 {
		return specs, nil
	}
	var out []spec
	for _, n := range o.only {
		found := false
		for _, s := range specs {
			if s.name == n {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("-images: no image %q", n)
		}
	}
	return out, nil
}

func build(o options) error {
	selected, err := o.selected()
	if err != nil {
		return err
	}
	baseTar, err := layerTar(baseEntries(caCertificates()), o.stamp.created)
	if err != nil {
		return err
	}
	base, err := layer(baseTar)
	if err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "images-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	for _, s := range selected {
		start := time.Now()
		var images []v1.Image
		for _, p := range o.platforms {
			bin := filepath.Join(binDir, s.name+"-"+p.OS+"-"+p.Architecture)
			if err := goBuild(o.root, s.name, p, o.ldflags, bin); err != nil {
				return err
			}
			binary, err := os.ReadFile(bin)
			if err != nil {
				return err
			}
			img, err := s.image(o.stamp, p, base, binary)
			if err != nil {
				return err
			}
			images = append(images, img)
		}
		idx, err := index(o.stamp, s, o.platforms, images)
		if err != nil {
			return err
		}
		if err := write(o, s, idx, images); err != nil {
			return err
		}
		digest, err := idx.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s %s (%s, built in %s)\n", s.ref(o.stamp.version), digest, sizes(o.platforms, images), time.Since(start).Round(time.Second))
	}
	return nil
}

// goBuild cross-compiles ./cmd/NAME as a static binary without local paths
// or VCS stamps (the version comes from ldflags), so that its bytes depend
// only on the source and the toolchain.
func goBuild(root, cmdName string, p v1.Platform, ldflags, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/"+cmdName)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/%s for %s/%s: %w", cmdName, p.OS, p.Architecture, err)
	}
	return nil
}

// write puts the index at OUT/NAME as an OCI layout (its ref.name the
// version, as skopeo's oci: transport and crane read it) and each platform's
// image at OUT/NAME-OS-ARCH.tar for docker load.
func write(o options, s spec, idx v1.ImageIndex, images []v1.Image) error {
	dir := filepath.Join(o.out, s.name)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": o.stamp.version})); err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	tag, err := name.NewTag(s.ref(o.stamp.version))
	if err != nil {
		return fmt.Errorf("tag %s: %w", s.ref(o.stamp.version), err)
	}
	for i, img := range images {
		file := filepath.Join(o.out, s.name+"-"+o.platforms[i].OS+"-"+o.platforms[i].Architecture+".tar")
		if err := tarball.WriteToFile(file, tag, img); err != nil {
			return fmt.Errorf("write docker tarball %s: %w", file, err)
		}
	}
	return nil
}

// sizes are the compressed sizes of each platform's image.
func sizes(platforms []v1.Platform, images []v1.Image) string {
	var parts []string
	for i, img := range images {
		var total int64
		layers, _ := img.Layers()
		for _, l := range layers {
			n, _ := l.Size()
			total += n
		}
		parts = append(parts, fmt.Sprintf("%s/%s %.1f MB", platforms[i].OS, platforms[i].Architecture, float64(total)/1e6))
	}
	return strings.Join(parts, ", ")
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Source is the repository every image says it was built from
// (org.opencontainers.image.source).
const Source = "https://github.com/cloud-provider-vpc/cloud-provider-vpc"

// Repository is the name every image is tagged under, without a registry
// host: deploy/base refers to it, and a push names the registry.
const Repository = "cloud-provider-vpc/"

// spec is one image: the command it runs and how.
type spec struct {
	name        string // the command under ./cmd and the image's name
	description string
	args        []string // after the binary, before a container's own args
}

// specs are the images `make images` builds.
var specs = []spec{
	{
		name:        "vpc-cloud-controller-manager",
		description: "Kubernetes cloud-controller-manager for VPCs that speak the Compute Engine v1 API",
	},
	{
		name:        "fake-gce",
		description: "A local Compute Engine v1 API and metadata server for tests and CI",
		// The binary listens on loopback by default; in a container that
		// is unreachable from outside, so the image listens on every
		// interface. Requests must still name an IP address, a loopback
		// name or an --allowed-host in their Host header (docs/ci.md).
		args: []string{"--listen=0.0.0.0:8085"},
	},
}

// stamp is what an image says about its build; every field comes from the
// commit, none from the clock, so that two builds of a commit are identical.
type stamp struct {
	version string
	commit  string
	created time.Time // the commit's time (SOURCE_DATE_EPOCH)
}

func (s spec) ref(version string) string { return Repository + s.name + ":" + version }

func (s spec) entrypoint() []string {
	return append([]string{"/usr/local/bin/" + s.name}, s.args...)
}

// labels are the OCI annotation keys, used as image labels
// (github.com/opencontainers/image-spec/blob/main/annotations.md).
func (s spec) labels(st stamp) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       s.name,
		"org.opencontainers.image.description": s.description,
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.revision":    st.commit,
		"org.opencontainers.image.version":     st.version,
		"org.opencontainers.image.created":     st.created.UTC().Format(time.RFC3339),
	}
}

// config is the image configuration for one platform.
func (s spec) config(st stamp, p v1.Platform) v1.ConfigFile {
	return v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Created:      v1.Time{Time: st.created.UTC()},
		Config: v1.Config{
			Entrypoint: s.entrypoint(),
			User:       fmt.Sprintf("%d:%d", nonroot, nonroot),
			WorkingDir: "/",
			Labels:     s.labels(st),
		},
	}
}

// layer is a gzip-compressed OCI layer of the given tar bytes.
func layer(tarBytes []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// image is one platform's image of s: the shared base layer and a layer
// holding the binary.
func (s spec) image(st stamp, p v1.Platform, base v1.Layer, binary []byte) (v1.Image, error) {
	tarBytes, err := layerTar(binaryEntries(s.name, binary), st.created)
	if err != nil {
		return nil, err
	}
	app, err := layer(tarBytes)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: st.created.UTC()}, CreatedBy: "CA certificates, passwd and group for uid 65532", Comment: "hack/images"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: v1.Time{Time: st.created.UTC()}, CreatedBy: "/usr/local/bin/" + s.name, Comment: "hack/images"}},
	)
	if err != nil {
		return nil, fmt.Errorf("append layers of %s: %w", s.name, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	want := s.config(st, p)
	want.RootFS, want.History = cfg.RootFS, cfg.History
	return mutate.ConfigFile(img, &want)
}

// index is the multi-platform index of one image, in the order of platforms.
func index(st stamp, s spec, platforms []v1.Platform, images []v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for i, img := range images {
		p := platforms[i]
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, map[string]string{
		"org.opencontainers.image.source":   Source,
		"org.opencontainers.image.revision": st.commit,
		"org.opencontainers.image.version":  st.version,
	}).(v1.ImageIndex), nil
}

package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"sort"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// nonroot is the user the images run as: uid and gid 65532, the "nonroot"
// of distroless images, which Kubernetes' runAsNonRoot accepts because it is
// numeric and not 0.
const nonroot = 65532

// entry is one file or directory of an image layer.
type entry struct {
	path string // without a leading slash, as tar entries of image layers are
	mode int64
	uid  int
	dir  bool
	body []byte
}

// baseEntries are what a static Go binary needs from an operating system:
// CA certificates for TLS to the compute API and the token endpoint, a
// passwd and group entry for its user, a home and a /tmp.
func baseEntries(caCertificates []byte) []entry {
	return []entry{
		{path: "etc", mode: 0o755, dir: true},
		{path: "etc/group", mode: 0o644, body: fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", nonroot)},
		{path: "etc/passwd", mode: 0o644, body: fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonroot, nonroot)},
		{path: "etc/ssl", mode: 0o755, dir: true},
		{path: "etc/ssl/certs", mode: 0o755, dir: true},
		// The path Go's crypto/x509 reads first on Linux
		// (src/crypto/x509/root_linux.go) and Debian's bundle has.
		{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: caCertificates},
		{path: "home", mode: 0o755, dir: true},
		{path: "home/nonroot", mode: 0o700, uid: nonroot, dir: true},
		{path: "tmp", mode: 0o1777, dir: true},
	}
}

// binaryEntries put one program at /usr/local/bin.
func binaryEntries(name string, binary []byte) []entry {
	return []entry{
		{path: "usr", mode: 0o755, dir: true},
		{path: "usr/local", mode: 0o755, dir: true},
		{path: "usr/local/bin", mode: 0o755, dir: true},
		{path: "usr/local/bin/" + name, mode: 0o755, body: binary},
	}
}

// layerTar writes entries as a tar archive whose bytes depend on nothing but
// the entries and mtime: sorted paths, one modification time, numeric owners
// without names, no access or change times.
func layerTar(entries []entry, mtime time.Time) ([]byte, error) {
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].path < sorted[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range sorted {
		h := &tar.Header{Name: e.path, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime.UTC()}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, e.path+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write tar header %s: %w", e.path, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("write tar entry %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// caCertificates is Mozilla's root store as the Go module
// golang.org/x/crypto/x509roots/fallback ships it (pinned in go.mod, so the
// bundle is the same on every build machine), as one PEM file. Roots with a
// constraint a PEM file cannot carry (a distrust-after date) are left out:
// a plain file would trust them without it.
func caCertificates() []byte {
	var out bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return out.Bytes()
}

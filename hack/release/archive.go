package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// archiveName is the file a platform's build of a command ships in.
func archiveName(cmd, version, goos, goarch string) string {
	return fmt.Sprintf("%s_%s_%s_%s.tar.gz", cmd, version, goos, goarch)
}

// archive is a .tar.gz of the given files (name to bytes, each executable)
// whose bytes depend only on them and mtime: sorted names, numeric owners,
// one modification time, and a gzip header without a name or a time.
func archive(files map[string][]byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		h := &tar.Header{Name: n, Mode: 0o755, Size: int64(len(files[n])), ModTime: mtime.UTC(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("archive %s: %w", n, err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, fmt.Errorf("archive %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sha256Sums is a SHA256SUMS file as sha256sum writes it (two spaces between
// the digest and the name; sha256sum -c reads it), sorted by name.
func sha256Sums(files map[string][]byte) string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(&b, "%s  %s\n", sha256Hex(files[n]), n)
	}
	return b.String()
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// kustomizationPath is deploy/base's kustomization, whose images entry
// names the CCM's image tag.
const kustomizationPath = "deploy/base/kustomization.yaml"

// chartPath is the Helm chart's Chart.yaml: its appVersion is the image tag
// the chart runs by default, and its version the chart's own (the release's
// without the v, as Helm wants SemVer).
const chartPath = "deploy/charts/cloud-provider-vpc/Chart.yaml"

// ccmImage is the image deploy/base runs, without a registry host.
const ccmImage = "cloud-provider-vpc/vpc-cloud-controller-manager"

// imageTagLine finds the newTag of the CCM's images entry, written as
//
//   - name: cloud-provider-vpc/vpc-cloud-controller-manager
//     newTag: v0.1.0
var imageTagLine = regexp.MustCompile(`(?m)^(\s*- name: ` + regexp.QuoteMeta(ccmImage) + `\n\s*newTag: )(\S+)[ \t]*$`)

// The top-level version and appVersion lines of Chart.yaml.
var (
	chartVersionLine    = regexp.MustCompile(`(?m)^(version: )(\S+)[ \t]*$`)
	chartAppVersionLine = regexp.MustCompile(`(?m)^(appVersion: )(\S+)[ \t]*$`)
)

// imageTag is the CCM's image tag in the kustomization file.
func imageTag(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	m := imageTagLine.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s: no images entry for %s with a newTag", path, ccmImage)
	}
	return string(m[2]), nil
}

// setImageTag writes version as deploy/base's image tag and the chart's
// appVersion (and, without its v, the chart's version) under root, and
// changes nothing else of either file.
func setImageTag(root, version string) error {
	type line struct {
		what  string
		re    *regexp.Regexp
		value string
	}
	edits := []struct {
		path  string
		lines []line
	}{
		{kustomizationPath, []line{{"images entry for " + ccmImage + " with a newTag", imageTagLine, version}}},
		{chartPath, []line{
			{"top-level version line", chartVersionLine, strings.TrimPrefix(version, "v")},
			{"top-level appVersion line", chartAppVersionLine, version},
		}},
	}
	out := map[string][]byte{}
	for _, e := range edits {
		b, err := os.ReadFile(filepath.Join(root, e.path))
		if err != nil {
			return err
		}
		for _, l := range e.lines {
			if n := len(l.re.FindAllIndex(b, -1)); n != 1 {
				return fmt.Errorf("%s: want exactly one %s, found %d", e.path, l.what, n)
			}
			b = l.re.ReplaceAll(b, []byte("${1}"+l.value))
		}
		out[e.path] = b
	}
	// Both files are checked before either is written.
	for path, b := range out {
		if err := os.WriteFile(filepath.Join(root, path), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

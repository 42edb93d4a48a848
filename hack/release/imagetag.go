package main

import (
	"fmt"
	"os"
	"regexp"
)

// kustomizationPath is deploy/base's kustomization, whose images entry
// names the CCM's image tag.
const kustomizationPath = "deploy/base/kustomization.yaml"

// ccmImage is the image deploy/base runs, without a registry host.
const ccmImage = "cloud-provider-vpc/vpc-cloud-controller-manager"

// imageTagLine finds the newTag of the CCM's images entry, written as
//
//   - name: cloud-provider-vpc/vpc-cloud-controller-manager
//     newTag: v0.1.0
var imageTagLine = regexp.MustCompile(`(?m)^(\s*- name: ` + regexp.QuoteMeta(ccmImage) + `\n\s*newTag: )(\S+)[ \t]*$`)

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

// setImageTag rewrites the CCM's image tag in the kustomization file and
// nothing else of it.
func setImageTag(path, version string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !imageTagLine.Match(b) {
		return fmt.Errorf("%s: no images entry for %s with a newTag", path, ccmImage)
	}
	out := imageTagLine.ReplaceAll(b, []byte("${1}"+version))
	return os.WriteFile(path, out, 0o644)
}

package main

import (
	"sigs.k8s.io/yaml"
)

// The krew plugin manifest, as documented at
// https://krew.sigs.k8s.io/docs/developer-guide/plugin-manifest/: the
// plugin "vpc" is invoked as `kubectl vpc`, and its manifest file must be
// named vpc.yaml.
type krewPlugin struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   krewMetadata `json:"metadata"`
	Spec       krewSpec     `json:"spec"`
}

type krewMetadata struct {
	Name string `json:"name"`
}

type krewSpec struct {
	Version          string         `json:"version"`
	Homepage         string         `json:"homepage"`
	ShortDescription string         `json:"shortDescription"`
	Description      string         `json:"description"`
	Platforms        []krewPlatform `json:"platforms"`
}

type krewPlatform struct {
	Selector krewSelector `json:"selector"`
	URI      string       `json:"uri"`
	SHA256   string       `json:"sha256"`
	Bin      string       `json:"bin"`
}

type krewSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

// krewArchive is one platform's archive of kubectl-vpc.
type krewArchive struct {
	goos, goarch, name string
	sha256             string
}

// krewManifest is the manifest of kubectl-vpc for the given archives, which
// are downloaded from urlBase + name.
func krewManifest(version, urlBase string, archives []krewArchive) ([]byte, error) {
	p := krewPlugin{
		APIVersion: "krew.googlecontainertools.github.com/v1alpha2",
		Kind:       "Plugin",
		Metadata:   krewMetadata{Name: "vpc"},
		Spec: krewSpec{
			Version:          version,
			Homepage:         source,
			ShortDescription: "Explain how cloud-provider-vpc serves a cluster's Services",
			Description: "kubectl vpc trace SERVICE prints every hop and rewrite a packet to a\n" +
				"LoadBalancer Service meets on a cluster served by cloud-provider-vpc\n" +
				"(the VPC firewall, the load balancer, kube-proxy), and where and why it\n" +
				"would be dropped.\n",
		},
	}
	for _, a := range archives {
		p.Spec.Platforms = append(p.Spec.Platforms, krewPlatform{
			Selector: krewSelector{MatchLabels: map[string]string{"os": a.goos, "arch": a.goarch}},
			URI:      urlBase + a.name,
			SHA256:   a.sha256,
			Bin:      "kubectl-vpc",
		})
	}
	return yaml.Marshal(p)
}

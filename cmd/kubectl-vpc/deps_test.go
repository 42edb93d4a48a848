package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The plugin reads the CCM's cloud config, but it must not link the
// provider: providers/gce registers itself with k8s.io/cloud-provider in
// init() and brings the whole CCM's code into a user's kubectl plugin. Nor
// the load balancers' or nodeip's code: the names it looks for come from
// ownership.
// `go list -deps` names every package the command links, each with its
// imports (its tests' imports are not among them: the tests start a
// provider to trace).
func TestKubectlVPCDoesNotLinkTheProvider(t *testing.T) {
	const provider = "github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	readsConfig := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			switch imp {
			case provider:
				t.Errorf("kubectl-vpc links %s: %s imports it (read the cloud config with %s/cloudconfig)", provider, pkg, provider)
			case provider + "/nlb", provider + "/nodeip":
				t.Errorf("kubectl-vpc links %s: %s imports it (resource names come from ownership)", imp, pkg)
			case provider + "/cloudconfig":
				readsConfig = true
			}
		}
	}
	if !readsConfig {
		t.Fatalf("no package go list names imports cloudconfig: the list is not kubectl-vpc's:\n%s", out)
	}
}

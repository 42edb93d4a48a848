package fakegce_test

import (
	"os/exec"
	"strings"
	"testing"
)

// fake-gce is a library users put in their own CI: it links neither
// Kubernetes nor the provider it tests, only the small packages of this
// module that speak the compute API's own terms (firewall/protoport).
func TestFakeGCELinksNeitherKubernetesNorTheProvider(t *testing.T) {
	const module = "github.com/cloud-provider-vpc/cloud-provider-vpc/"
	out, err := exec.Command("go", "list", "-deps", ".", "./fakegcetest").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{module + "test/fakegce", module + "firewall/protoport"}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "k8s.io/"), strings.HasPrefix(pkg, "sigs.k8s.io/"):
			t.Errorf("fake-gce links %s", pkg)
		case strings.HasPrefix(pkg, module) && !hasAnyPrefix(pkg, allowed):
			t.Errorf("fake-gce links %s, a package of the provider's", pkg)
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

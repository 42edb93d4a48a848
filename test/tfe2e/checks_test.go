package tfe2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

// TestFormat is `tofu fmt -check -recursive deploy/terraform`: make tf-fmt
// rewrites what it finds.
func TestFormat(t *testing.T) {
	tf := newTofu(t, "")
	out, code, err := tf.exec(repoRoot(t), "fmt", "-check", "-recursive", "-diff", "-no-color", "deploy/terraform")
	if err != nil || code != 0 {
		t.Fatalf("tofu fmt -check -recursive deploy/terraform: exit %d %v (make tf-fmt rewrites these)\n%s", code, err, out)
	}
}

// TestCloudConfigModuleTests runs the cloud-config module's own `tofu test`,
// which needs no provider.
func TestCloudConfigModuleTests(t *testing.T) {
	tf := newTofu(t, "")
	dir := filepath.Join(copyModule(t), "modules", "cloud-config")
	tf.run(t, dir, "init", "-input=false", "-no-color")
	out := tf.run(t, dir, "test", "-no-color")
	t.Logf("tofu test:\n%s", lastLines(out, 1))
}

// TestRenderedCloudConfigIsWhatTheCCMReads renders gce.conf through the
// cloud-config module, as deploy/terraform does, and parses it with the
// CCM's own parser: every key must arrive with the meaning it was given.
func TestRenderedCloudConfigIsWhatTheCCMReads(t *testing.T) {
	tf := newTofu(t, "")
	root := filepath.Join(filepath.Dir(copyModule(t)), "render")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// The two examples' cloud configs: fake-gce (three zones, an endpoint, no
	// credentials) and a real project (one zone, a Shared VPC's host project,
	// a [load-balancer] section).
	main := `
module "fake_gce" {
  source          = "../terraform/modules/cloud-config"
  project_id      = "fake-project"
  network_name    = "tf-e2e-vpc"
  subnetwork_name = "tf-e2e-nodes"
  node_tags       = ["k8s-node"]
  local_zone      = "us-central1-a"
  regional        = true
  api_endpoint    = "http://127.0.0.1:8085/compute/v1/"
  token_url       = "nil"
}

module "real" {
  source             = "../terraform/modules/cloud-config"
  project_id         = "my-project"
  network_project_id = "my-host-project"
  network_name       = "k8s-vpc"
  subnetwork_name    = "k8s-nodes"
  node_tags          = ["k8s-node"]
  local_zone         = "europe-west1-b"
  extra              = "[load-balancer]\nmode = nodeip\n"
}

output "fake_gce" { value = module.fake_gce.gce_conf }
output "real" { value = module.real.gce_conf }
`
	if err := os.WriteFile(filepath.Join(root, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	tf.run(t, root, "init", "-input=false", "-no-color")
	tf.run(t, root, "apply", "-auto-approve", "-input=false", "-no-color")
	var got struct {
		FakeGCE string `json:"fake_gce"`
		Real    string `json:"real"`
	}
	tf.outputs(t, root, &got)

	for _, tc := range []struct {
		name, conf string
		want       renderedKeys
		mode       string
	}{
		{"fake-gce", got.FakeGCE, renderedKeys{ProjectID: "fake-project", NetworkName: "tf-e2e-vpc", SubnetworkName: "tf-e2e-nodes",
			NodeTags: []string{"k8s-node"}, LocalZone: "us-central1-a", Regional: true,
			APIEndpoint: "http://127.0.0.1:8085/compute/v1/", TokenURL: "nil"}, cloudconfig.ModeExternal},
		{"a real project", got.Real, renderedKeys{ProjectID: "my-project", NetworkProjectID: "my-host-project", NetworkName: "k8s-vpc", SubnetworkName: "k8s-nodes",
			NodeTags: []string{"k8s-node"}, LocalZone: "europe-west1-b"}, cloudconfig.ModeNodeIP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cloudconfig.Parse(strings.NewReader(tc.conf))
			if err != nil {
				t.Fatalf("the CCM refuses the rendered gce.conf: %v\n%s", err, tc.conf)
			}
			if diff := cmp.Diff(tc.want, keysOf(c)); diff != "" {
				t.Errorf("parsed gce.conf (-want +got):\n%s\n%s", diff, tc.conf)
			}
			if c.LoadBalancer.Mode != tc.mode {
				t.Errorf("[load-balancer] mode = %q, want %q", c.LoadBalancer.Mode, tc.mode)
			}
		})
	}
}

// renderedKeys are the [global] keys the cloud-config module writes.
type renderedKeys struct {
	ProjectID, NetworkProjectID, NetworkName, SubnetworkName string
	NodeTags                                                 []string
	LocalZone                                                string
	Regional                                                 bool
	APIEndpoint, TokenURL                                    string
}

func keysOf(c *cloudconfig.Config) renderedKeys {
	return renderedKeys{ProjectID: c.ProjectID, NetworkProjectID: c.NetworkProjectID, NetworkName: c.NetworkName, SubnetworkName: c.SubnetworkName,
		NodeTags: c.NodeTags, LocalZone: c.LocalZone, Regional: c.Regional, APIEndpoint: c.APIEndpoint, TokenURL: c.TokenURL}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

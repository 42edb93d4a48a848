package cloudconfig

import (
	"strings"
	"testing"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

func TestAClusterNameAnotherClusterMayShareByAccidentIsRefused(t *testing.T) {
	tests := []struct {
		name         string
		clusterName  string
		allowDefault bool
		wantErr      string // empty: accepted
	}{
		{name: "a name of the cluster's own is accepted", clusterName: "prod-eu"},
		{name: "a name that only starts like the default is accepted", clusterName: "kubernetes-eu"},
		{
			name: "the default name is refused with the flag and the opt-in named", clusterName: "kubernetes",
			wantErr: `--cluster-name is "kubernetes", the default every cluster that does not set it shares, and two clusters of one name in one project delete each other's cloud resources: set a name no other cluster in the project or its network uses, or keep this one with [cluster] allow-default-name = true in the cloud config`,
		},
		{name: "the default name is accepted when the cloud config allows it", clusterName: "kubernetes", allowDefault: true},
		{
			name: "an empty name is refused, even when the default is allowed", clusterName: "", allowDefault: true,
			wantErr: `--cluster-name is empty: set a name no other cluster in the project or its network uses (it names and marks every cloud resource of the cluster)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{Cluster: ClusterConfig{AllowDefaultName: tt.allowDefault}}
			err := CheckClusterName(tt.clusterName, cfg)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("CheckClusterName(%q) = %q\nwant %q", tt.clusterName, got, tt.wantErr)
			}
			if strings.Contains(got, "\n") {
				t.Errorf("the error spans several lines: %q", got)
			}
		})
	}
}

func TestTheClusterSectionSaysWhetherTheDefaultNameIsKept(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    ClusterConfig
		wantErr string
	}{
		{name: "without the section the default name is refused", file: "[global]\n", want: ClusterConfig{}},
		{name: "an existing cluster keeps the default name", file: "[cluster]\nallow-default-name = true\n", want: ClusterConfig{AllowDefaultName: true}},
		{
			name: "a value that is no boolean names the key", file: "[cluster]\nallow-default-name = please\n",
			wantErr: `cloud config: [cluster] allow-default-name: "please" is not a boolean (want true or false)`,
		},
		{name: "an unknown key names the key", file: "[cluster]\nname = prod\n", wantErr: `cloud config: [cluster] name: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(strings.NewReader(tt.file))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("Parse = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Cluster != tt.want {
				t.Errorf("[cluster] = %+v, want %+v", cfg.Cluster, tt.want)
			}
		})
	}
}

// On a Shared VPC the service project joins the cluster's identity, unless
// [cluster] shared-vpc-name-only keeps the identity of a cluster whose
// resources were made before it did; elsewhere the name alone is the
// identity, as it always was.
func TestTheClustersIdentityIsItsNameAndOnASharedVPCItsProject(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want ownership.Cluster
	}{
		{name: "a cluster whose project holds its network is its name",
			cfg: Config{ProjectID: "team-a", NetworkName: "vpc"}, want: ownership.ForCluster("prod")},
		{name: "a cluster whose network-project-id is its own project is its name",
			cfg: Config{ProjectID: "team-a", NetworkProjectID: "team-a", NetworkName: "vpc"}, want: ownership.ForCluster("prod")},
		{name: "a service project's cluster is its name and its project",
			cfg: Config{ProjectID: "team-a", NetworkProjectID: "host", NetworkName: "vpc"}, want: ownership.ForCluster("prod").InServiceProject("team-a")},
		{name: "a service project's cluster named by a network link of the host is its name and its project",
			cfg: Config{ProjectID: "team-a", NetworkName: "projects/host/global/networks/vpc"}, want: ownership.ForCluster("prod").InServiceProject("team-a")},
		{name: "a service project's cluster with shared-vpc-name-only is its name",
			cfg:  Config{ProjectID: "team-a", NetworkProjectID: "host", NetworkName: "vpc", Cluster: ClusterConfig{SharedVPCNameOnly: true}},
			want: ownership.ForCluster("prod")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.Owner("prod")
			if got.Prefix() != tt.want.Prefix() || got.Project() != tt.want.Project() || got.Name() != tt.want.Name() {
				t.Errorf("Owner = %s %q %q, want %s %q %q", got.Prefix(), got.Name(), got.Project(), tt.want.Prefix(), tt.want.Name(), tt.want.Project())
			}
		})
	}
}

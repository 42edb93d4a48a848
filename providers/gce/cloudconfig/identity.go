package cloudconfig

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// The cluster's identity: its name (--cluster-name), checked against the
// [cluster] section, and the owner and network every resource of the
// cluster is named, marked and found by.

// CheckClusterName refuses a --cluster-name that another cluster may share
// by accident. The name scopes every resource the cluster owns: their name
// prefix and the marker in their description (ownership.ForCluster). Two
// clusters of one name in one project (or on one Shared VPC network) take
// each other's resources for their own: the shared instance groups drop the
// other cluster's nodes, the firewall garbage collector deletes its rules,
// the route controller its routes. The default name is the one they are
// most likely to share, so it is refused unless the cloud config says this
// cluster already runs with it ([cluster] allow-default-name): renaming
// such a cluster would leave its resources to no one. An empty name is
// always refused: the controllers would pass it on as it is.
//
// It lives with the config because the config's [cluster] section exists
// for it, and both the command (before it asks the API server anything)
// and the provider check the name with it.
func CheckClusterName(name string, cfg *Config) error {
	switch {
	case name == "":
		return errors.New("--cluster-name is empty: set a name no other cluster in the project or its network uses (it names and marks every cloud resource of the cluster)")
	case name == ownership.DefaultClusterName && !cfg.Cluster.AllowDefaultName:
		return fmt.Errorf("--cluster-name is %q, the default every cluster that does not set it shares, and two clusters of one name in one project delete each other's cloud resources: "+
			"set a name no other cluster in the project or its network uses, or keep this one with [cluster] allow-default-name = true in the cloud config", name)
	}
	return nil
}

// Owner is the ownership of the cluster named clusterName as this provider
// runs it with cfg: on a Shared VPC (the network's project is not
// project-id) the cluster's own project joins its identity, since the host
// project holds the firewall rules and routes of every service project's
// clusters (ownership.Cluster.InServiceProject). Elsewhere it is the name
// alone, as it always was, and so it is on a Shared VPC with [cluster]
// shared-vpc-name-only: for a cluster whose resources were named and marked
// before, the only one of its name on the host network. kubectl-vpc derives
// the owner it looks for with it too.
func (cfg *Config) Owner(clusterName string) ownership.Cluster {
	owner := ownership.ForCluster(clusterName)
	if cfg.NetworkProject() != cfg.ProjectID && !cfg.Cluster.SharedVPCNameOnly {
		owner = owner.InServiceProject(cfg.ProjectID)
	}
	return owner
}

// NetworkLink is the full link of the cluster's network: network-name when
// it is a link, else the network of that name in the network's project
// (network-project-id, or project-id).
func (cfg *Config) NetworkLink() string {
	return cfg.linkOf(cfg.NetworkName, "global/networks/")
}

// NetworkProject is the project of the cluster's network: network-project-id,
// or the project a network-name link names, or project-id.
func (cfg *Config) NetworkProject() string {
	return cmp.Or(ownership.ProjectOf(cfg.NetworkLink()), cfg.ProjectID)
}

// SubnetworkLink is the full link of the subnetwork the config names in
// region: subnetwork-name when it is a link, else the subnetwork of that
// name in network-project-id (or project-id). It is "" when the config
// names none (the provider then finds it).
func (cfg *Config) SubnetworkLink(region string) string {
	if cfg.SubnetworkName == "" {
		return ""
	}
	return cfg.linkOf(cfg.SubnetworkName, "regions/"+region+"/subnetworks/")
}

// linkOf is the full link of name, which the config gives either as a
// link (full or partial) or as a name under path in network-project-id
// (or project-id).
func (cfg *Config) linkOf(name, path string) string {
	if link, ok := ownership.FullLink(name); ok {
		return link
	}
	return string(ownership.InProject(cmp.Or(cfg.NetworkProjectID, cfg.ProjectID))) + "/" + path + name
}

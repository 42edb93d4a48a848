package gce

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

// nodeTagsProblem refuses a config that names no way to find the nodes'
// network tags. The load balancers' and nodeip's firewall rules target the
// node tags; a rule without target tags applies to every instance of the
// network (https://cloud.google.com/firewall/docs/firewalls#rule_assignment),
// so the provider never writes one.
func nodeTagsProblem(cfg *cloudconfig.Config) error {
	if len(cfg.NodeTags) > 0 || cfg.NodeInstancePrefix != "" {
		return nil
	}
	return &cloudconfig.Error{Key: "[global] node-tags", Problem: "not set: set the nodes' network tags (or node-instance-prefix); " +
		"without them the load balancers' firewall rules would open every instance of the network"}
}

// deriveNodeTags is what upstream does when node-tags is empty
// (kubernetes/cloud-provider-gcp providers/gce/gce_instances.go, GetNodeTags
// and computeHostTags): each node instance gives the longest of its network
// tags that its name starts with, and one that has none is an error.
// Upstream reads the instances of a load balancer's nodes on each update,
// narrowed by node-instance-prefix; here the instances named with
// node-instance-prefix in the managed zones give the tags once, at start (a
// node pool with a new tag needs node-tags, or a restart).
func deriveNodeTags(instances []*compute.Instance, prefix string, zones []string) ([]string, error) {
	var tags []string
	found := false
	for _, inst := range instances {
		if !strings.HasPrefix(inst.Name, prefix) || !slices.Contains(zones, ownership.LastSegment(inst.Zone)) {
			continue
		}
		found = true
		longest := ""
		if inst.Tags != nil {
			for _, tag := range inst.Tags.Items {
				if strings.HasPrefix(inst.Name, tag) && len(tag) > len(longest) {
					longest = tag
				}
			}
		}
		if longest == "" {
			return nil, &cloudconfig.Error{Key: "[global] node-tags", Problem: fmt.Sprintf("not set, and instance %s (named with node-instance-prefix %q) "+
				"has no network tag its name starts with: set node-tags to the nodes' network tags", inst.Name, prefix)}
		}
		tags = append(tags, longest)
	}
	if !found {
		return nil, &cloudconfig.Error{Key: "[global] node-tags", Problem: fmt.Sprintf("not set, and no instance in zones %s is named with node-instance-prefix %q: "+
			"set node-tags to the nodes' network tags", strings.Join(zones, ","), prefix)}
	}
	slices.Sort(tags)
	return slices.Compact(tags), nil
}

// resolveProjectNumbers turns a numeric project-id or network-project-id
// into the project's id, as upstream does (kubernetes/cloud-provider-gcp
// providers/gce/gce.go, tryConvertToProjectNames, with projects.get): the
// providerID and every link name a project by id. Upstream keeps the number
// when the call fails; here that stops the provider, naming the key, since
// the number would then be written into providerIDs.
func resolveProjectNumbers(ctx context.Context, cfg *cloudconfig.Config, get func(ctx context.Context, idOrNumber string) (*compute.Project, error)) error {
	for _, p := range []struct {
		key string
		v   *string
	}{{"project-id", &cfg.ProjectID}, {"network-project-id", &cfg.NetworkProjectID}} {
		if !cloudconfig.IsProjectNumber(*p.v) {
			continue
		}
		proj, err := get(ctx, *p.v)
		if err != nil {
			return &cloudconfig.Error{Key: "[global] " + p.key, Problem: fmt.Sprintf("cannot read project %s: %v", *p.v, err)}
		}
		*p.v = proj.Name
	}
	return nil
}

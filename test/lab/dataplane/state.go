package dataplane

import (
	"strings"

	"google.golang.org/api/compute/v1"
)

// State is what Compile reads: fake-gce's resources as the compute API
// returns them, plus the prober's results.
type State struct {
	// Network is the name of the VPC network the lab stands for; instances,
	// firewalls and routes of other networks are ignored.
	Network          string
	Instances        []*compute.Instance
	Firewalls        []*compute.Firewall
	Routes           []*compute.Route
	ForwardingRules  []*compute.ForwardingRule
	TargetPools      []*compute.TargetPool
	BackendServices  []*compute.BackendService
	HTTPHealthChecks []*compute.HttpHealthCheck
	// HealthChecks are the global and regional health checks.
	HealthChecks []*compute.HealthCheck
	// InstanceGroups lists each instance group's members, by path.
	InstanceGroups map[string][]string
	// Health holds what the prober found; a check with no result yet counts
	// as failing (GCE reports a new backend unhealthy until it passes).
	Health map[HealthKey]bool
}

// resourcePath reduces a resource link or partial URL to its path from
// "projects/", the form State and Plan use to name resources. The API answers
// full links (https://www.googleapis.com/compute/v1/projects/...), whatever
// form a client sent.
func resourcePath(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}

// lastSegment is the name at the end of a link.
func lastSegment(link string) string { return link[strings.LastIndexByte(link, '/')+1:] }

// onNetwork reports whether a resource's network link names the lab's network.
func (s *State) onNetwork(networkLink string) bool {
	return s.Network == "" || lastSegment(networkLink) == s.Network
}

package ownership

import "strings"

// Compute objects refer to each other by links: full URLs
// (https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/i),
// or partial ones (projects/p/zones/z/instances/i, zones/z/instances/i,
// global/networks/n), which the API accepts in requests wherever it takes a
// link (https://cloud.google.com/compute/docs/reference/rest/v1, "Resource
// URLs": "partially-valid URLs"). Links made here are full ones from
// LinkBase; links read from the API or a user may have another endpoint's
// root, or none, so they are parsed from "projects/" on.

// LinkBase is the root of every link the compute API answers with
// (selfLink, and the references it stores), whichever endpoint the client
// called: compare and build links on it, never on the endpoint.
const LinkBase = "https://www.googleapis.com/compute/v1/"

// ProjectLink is the root of the links of one project's resources.
type ProjectLink string

// InProject starts the links of project's resources.
func InProject(project string) ProjectLink { return ProjectLink(LinkBase + "projects/" + project) }

func (p ProjectLink) global(collection, name string) string {
	return string(p) + "/global/" + collection + "/" + name
}

func (p ProjectLink) regional(region, collection, name string) string {
	return string(p) + "/regions/" + region + "/" + collection + "/" + name
}

func (p ProjectLink) zonal(zone, collection, name string) string {
	return string(p) + "/zones/" + zone + "/" + collection + "/" + name
}

// Instance is the link of an instance.
func (p ProjectLink) Instance(zone, name string) string { return p.zonal(zone, "instances", name) }

// InstanceGroup is the link of an unmanaged instance group.
func (p ProjectLink) InstanceGroup(zone, name string) string {
	return p.zonal(zone, "instanceGroups", name)
}

// TargetPool is the link of a target pool.
func (p ProjectLink) TargetPool(region, name string) string {
	return p.regional(region, "targetPools", name)
}

// BackendService is the link of a regional backend service.
func (p ProjectLink) BackendService(region, name string) string {
	return p.regional(region, "backendServices", name)
}

// HealthCheck is the link of a regional health check (a backend service's).
func (p ProjectLink) HealthCheck(region, name string) string {
	return p.regional(region, "healthChecks", name)
}

// HTTPHealthCheck is the link of a legacy global HTTP health check, the
// only kind a target pool takes.
func (p ProjectLink) HTTPHealthCheck(name string) string { return p.global("httpHealthChecks", name) }

// Subnetwork is the link of a subnetwork.
func (p ProjectLink) Subnetwork(region, name string) string {
	return p.regional(region, "subnetworks", name)
}

// Network is the link of a network.
func (p ProjectLink) Network(name string) string { return p.global("networks", name) }

// RelativeLink is a link from "projects/" on, whatever its root; ok is
// false when it names no project (a partial link such as
// "global/networks/n", or a bare name).
func RelativeLink(link string) (rel string, ok bool) {
	i := strings.Index(link, "projects/")
	if i < 0 {
		return "", false
	}
	return link[i:], true
}

// FullLink is a link with LinkBase as its root, in place of another
// endpoint's; ok is false when it names no project.
func FullLink(link string) (string, bool) {
	rel, ok := RelativeLink(link)
	if !ok {
		return "", false
	}
	return LinkBase + rel, true
}

// SameLink reports whether two links name the same resource: compared
// from "projects/" on, so that another endpoint's root does not matter; a
// partial link without a project is compared by the segments it has.
func SameLink(a, b string) bool {
	ra, okA := RelativeLink(a)
	rb, okB := RelativeLink(b)
	if okA && okB {
		return ra == rb
	}
	if !okA {
		ra = a
	}
	if !okB {
		rb = b
	}
	short, long := ra, rb
	if len(short) > len(long) {
		short, long = long, short
	}
	return short != "" && (long == short || strings.HasSuffix(long, "/"+short))
}

// LastSegment is the name at the end of a link, or the link itself when it
// has no "/" (a bare name). A trailing "/" is not a segment.
func LastSegment(link string) string {
	link = strings.TrimRight(link, "/")
	return link[strings.LastIndexByte(link, '/')+1:]
}

// SegmentAfter is the path segment after key in a link ("zones" ->
// "us-central1-a"), or "" when the link has no such segment.
func SegmentAfter(link, key string) string {
	parts := strings.Split(link, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == key {
			return parts[i+1]
		}
	}
	return ""
}

// ProjectOf is the project a link names, or "".
func ProjectOf(link string) string { return SegmentAfter(link, "projects") }

// ZoneOf is the zone of a zonal link, or "".
func ZoneOf(link string) string { return SegmentAfter(link, "zones") }

// RegionOf is the region of a regional link, or "".
func RegionOf(link string) string { return SegmentAfter(link, "regions") }

package fakegce

import (
	"regexp"
	"strings"
)

// linkBase is the prefix of every selfLink and reference the API returns,
// whatever endpoint the client used (the API behaves this way too).
const linkBase = "https://www.googleapis.com/compute/v1/"

// apiRoots are the paths under which a compute endpoint serves the API. A
// client roots the links it sends at its own endpoint: the upstream GCE
// provider's network URL is api-endpoint + "projects/P/global/networks/N"
// (kubernetes/cloud-provider-gcp providers/gce/gce.go, gceNetworkURL), so a
// client of fake-gce sends http://127.0.0.1:PORT/compute/v1/projects/...
// Answers always use linkBase, whatever root the client used.
var apiRoots = []string{"/compute/v1/", "/compute/beta/"}

// trimAPIRoot strips scheme://host/compute/{v1,beta}/ from an absolute link;
// ok is false for an absolute URL that is not under an API root.
func trimAPIRoot(s string) (rest string, ok bool) {
	scheme, afterScheme, found := strings.Cut(s, "://")
	if !found || (scheme != "https" && scheme != "http") {
		return s, true
	}
	slash := strings.IndexByte(afterScheme, '/')
	if slash <= 0 {
		return "", false
	}
	path := afterScheme[slash:]
	for _, root := range apiRoots {
		if strings.HasPrefix(path, root) {
			return strings.TrimPrefix(path, root), true
		}
	}
	return "", false
}

// ref is a parsed resource reference: projects/P/{global|regions/R|zones/Z}/COLL/NAME.
type ref struct {
	Project, Region, Zone, Collection, Name string
}

func (r ref) scopePath() string {
	switch {
	case r.Zone != "":
		return "projects/" + r.Project + "/zones/" + r.Zone
	case r.Region != "":
		return "projects/" + r.Project + "/regions/" + r.Region
	default:
		return "projects/" + r.Project + "/global"
	}
}

// coll is the store's collection path for the reference.
func (r ref) coll() string { return r.scopePath() + "/" + r.Collection }

// path is the reference relative to the API root: projects/p/global/networks/n.
func (r ref) path() string { return r.coll() + "/" + r.Name }

func (r ref) link() string { return linkBase + r.path() }

var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// validName reports whether s is an RFC 1035 label, the form of every compute resource name.
func validName(s string) bool { return nameRE.MatchString(s) }

// parseRef reads a reference in any form clients send: a full URL, a partial
// URL from "projects/", "global/", "regions/" or "zones/", or a bare name. The
// defaults (project, region, zone, and the collection for a bare name) come from
// the request. It returns ok=false for text that is no reference at all.
func parseRef(s string, def ref) (ref, bool) {
	s, ok := trimAPIRoot(s)
	if !ok {
		return ref{}, false
	}
	s = strings.Trim(s, "/")
	parts := strings.Split(s, "/")
	r := ref{Project: def.Project}
	if len(parts) >= 2 && parts[0] == "projects" {
		r.Project = parts[1]
		parts = parts[2:]
	}
	switch {
	case len(parts) == 1 && def.Collection != "":
		r.Region, r.Zone, r.Collection, r.Name = def.Region, def.Zone, def.Collection, parts[0]
	case len(parts) == 3 && parts[0] == "global":
		r.Collection, r.Name = parts[1], parts[2]
		// Terraform sends regions as projects/P/global/regions/R; the API accepts it.
	case len(parts) == 4 && parts[0] == "global" && parts[1] == "images" && parts[2] == "family":
		r.Collection, r.Name = "images/family", parts[3]
	case len(parts) == 4 && parts[0] == "regions":
		r.Region, r.Collection, r.Name = parts[1], parts[2], parts[3]
	case len(parts) == 4 && parts[0] == "zones":
		r.Zone, r.Collection, r.Name = parts[1], parts[2], parts[3]
	case len(parts) == 2 && (parts[0] == "regions" || parts[0] == "zones"):
		r.Collection, r.Name = parts[0], parts[1]
	default:
		return ref{}, false
	}
	if r.Project == "" || r.Name == "" {
		return ref{}, false
	}
	return r, true
}

// scopeLink is the link of a region or zone: regions and zones are top-level
// collections of a project (projects/p/regions/r), not scoped ones.
func scopeLink(project, kind, name string) string {
	return linkBase + "projects/" + project + "/" + kind + "/" + name
}

// lastSegment returns the name at the end of a link or partial URL.
func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

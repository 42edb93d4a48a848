// Package ownership says which cloud resources belong to a cluster: it names
// them and writes the marker that goes in their description.
//
// Every resource this project creates has a name that starts with the
// cluster's prefix and a description that carries the cluster's marker. Code
// that modifies or deletes a cloud resource must check Owns first: a resource
// without the marker is never touched, whatever its name.
package ownership

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Description keys. They are JSON object keys in a resource's description.
const (
	// ClusterKey names the cluster that owns the resource; it is the marker.
	ClusterKey = "cloud-provider-vpc.io/cluster"
	// ServiceKey and ServiceUIDKey name the Service a load balancer resource serves.
	ServiceKey    = "cloud-provider-vpc.io/service"
	ServiceUIDKey = "cloud-provider-vpc.io/service-uid"
	// NodeKey names the node a route sends traffic to.
	NodeKey = "cloud-provider-vpc.io/node"
	// ProjectKey names the cluster's own project when it is a service
	// project of a Shared VPC host: part of the marker (InServiceProject).
	ProjectKey = "cloud-provider-vpc.io/project"
	// ModeKey names the load balancer mode that made a Service's resource:
	// ModeExternal or ModeNodeIP. Each mode changes and removes only what
	// it made (FirewallMode), so neither undoes the other's work.
	ModeKey = "cloud-provider-vpc.io/mode"
)

// The values of ModeKey: the two load balancer modes of a Service.
const (
	ModeExternal = "external"
	ModeNodeIP   = "nodeip"
)

// DefaultClusterName is the --cluster-name a cloud controller manager runs
// with when it is given none: k8s.io/cloud-provider sets it in
// config/v1alpha1/defaults.go (SetDefaults_KubeCloudSharedConfiguration).
// Every cluster that leaves the flag unset shares it, so it tells no two
// clusters apart; the provider refuses it unless the cloud config accepts it.
const DefaultClusterName = "kubernetes"

// maxNameLen is the longest compute resource name (RFC 1035 label).
const maxNameLen = 63

// Cluster is one cluster's view of ownership.
type Cluster struct {
	name    string
	project string // the service project, on a Shared VPC only
	prefix  string
}

// ForCluster returns the ownership of the cluster named name (the CCM's
// --cluster-name).
func ForCluster(name string) Cluster {
	return Cluster{name: name, prefix: prefixOf(name, name)}
}

// InServiceProject returns the ownership of the same cluster run from
// project, a service project of a Shared VPC host whose network the cluster
// uses (an empty project changes nothing). Firewall rules and routes live in
// the host project (https://cloud.google.com/vpc/docs/shared-vpc), so two
// service projects that run clusters of one name would list, mark and
// collect the same rules: here the project joins the name in the prefix's
// hash and in the marker, so each owns only its own. A cluster whose own
// project holds its network never calls this: its names and marker stay
// those of ForCluster, and an upgrade orphans nothing.
func (c Cluster) InServiceProject(project string) Cluster {
	if project == "" {
		return c
	}
	return Cluster{name: c.name, project: project, prefix: prefixOf(c.name, project+"/"+c.name)}
}

// prefixOf is "cpv-<name>-<hash>-": the name for the reader, the first two
// bytes of key's SHA-256 to tell clusters apart.
func prefixOf(name, key string) string {
	sum := sha256.Sum256([]byte(key))
	short := sanitize(name)
	if len(short) > 10 {
		short = strings.TrimRight(short[:10], "-")
	}
	prefix := "cpv-" + hex.EncodeToString(sum[:2]) + "-"
	if short != "" {
		prefix = "cpv-" + short + "-" + hex.EncodeToString(sum[:2]) + "-"
	}
	return prefix
}

// Name is the cluster name.
func (c Cluster) Name() string { return c.name }

// Project is the service project InServiceProject set, or "".
func (c Cluster) Project() string { return c.project }

// Prefix starts the name of every resource of the cluster: "cpv-<name>-<hash>-",
// at most 20 characters, so that a 36-character UID still fits in a name.
func (c Cluster) Prefix() string { return c.prefix }

// ResourceName builds a resource name from the prefix, a short kind tag
// ("r" for routes, "fw" for firewalls, ...) and an identifier such as a UID.
// It is always a valid compute name of at most 63 characters.
func (c Cluster) ResourceName(kind, id string) string {
	name := c.prefix + kind + "-" + sanitize(id)
	if len(name) > maxNameLen {
		sum := sha256.Sum256([]byte(id))
		keep := maxNameLen - 9
		name = strings.TrimRight(name[:keep], "-") + "-" + hex.EncodeToString(sum[:4])
	}
	return strings.TrimRight(name, "-")
}

// NamePattern is a regular expression for the list filter that matches the
// cluster's resources by name (the regex dialect of compute list filters).
func (c Cluster) NamePattern() string { return "name eq " + c.prefix + ".*" }

// Description renders the description of a new resource: the marker plus the
// given keys, as a JSON object.
func (c Cluster) Description(keys map[string]string) string {
	m := map[string]string{ClusterKey: c.name}
	for k, v := range keys {
		m[k] = v
	}
	if c.project != "" {
		m[ProjectKey] = c.project
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Owns reports whether a resource with this name and description belongs to
// the cluster: the name has the prefix and the description the marker, the
// cluster's name and its service project (none outside a Shared VPC: a
// marker that names a project is then another cluster's).
func (c Cluster) Owns(name, description string) bool {
	if !strings.HasPrefix(name, c.prefix) {
		return false
	}
	keys, ok := Parse(description)
	return ok && keys[ClusterKey] == c.name && keys[ProjectKey] == c.project
}

// Parse reads the keys of a description written by Description.
func Parse(description string) (map[string]string, bool) {
	var m map[string]string
	if err := json.Unmarshal([]byte(description), &m); err != nil {
		return nil, false
	}
	return m, true
}

// FirewallMode is the mode that made a Service's firewall rule: the
// description's ModeKey, or, for a rule written before the key existed,
// the mode its name says. The nodeip mode named its rules BASE-nip and
// BASE-nip6 then as now; every other rule of a Service was the external
// mode's (BASE-fw, BASE-hc and their IPv6 twins). So an upgrade neither
// orphans a rule nor lets a mode take the other's.
func FirewallMode(name string, keys map[string]string) string {
	if m := keys[ModeKey]; m != "" {
		return m
	}
	if isNodeIPFirewallName(name) {
		return ModeNodeIP
	}
	return ModeExternal
}

// sanitize lowers s and keeps letters, digits and single dashes, so that it
// can stand inside a compute name.
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

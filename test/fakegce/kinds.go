package fakegce

import (
	"strings"
	"unicode"
)

// kind is what the fake knows about one resource type beyond the discovery
// document: its server-side defaults and checks, the references it holds, and
// its custom methods. Types without an entry get the generic behaviour.
type kind struct {
	// resource is the discovery resource name ("regionBackendServices");
	// collection is the URL segment ("backendServices").
	resource   string
	collection string
	schema     string
	// kindName is the resource's "kind" field ("compute#firewall").
	kindName string
	// quota is the per-project (or per-region) quota metric that counts it.
	quota string
	// fingerprint: the resource carries a top-level fingerprint, checked on patch and update.
	fingerprint bool
	// refs are the fields that name other resources.
	refs []refSpec
	// fill sets defaults that references depend on, before they are resolved
	// (insert only); it may read other resources through t.
	fill func(t *tx, c *call, obj map[string]any) error
	// prepare fills defaults and checks a resource being inserted (old == nil)
	// or changed; it may change other resources through t.
	prepare func(t *tx, c *call, obj, old map[string]any) error
	// beforeDelete checks and undoes side effects of a resource being deleted.
	beforeDelete func(t *tx, c *call, obj map[string]any) error
	// custom serves methods beyond the generic ones, by verb.
	custom map[string]handler
	// readOnly kinds are a catalog: only get and list.
	readOnly bool
}

// refSpec is a field that names another resource.
type refSpec struct {
	// path of the field: "network", "networkInterfaces[].subnetwork", "healthChecks[]".
	path string
	// collection the bare name resolves in, and what the reference must point at
	// (any collection when empty: the link says which).
	collection string
	// scope of a bare name: "global", "region" or "zone".
	scope string
	// blocksDelete: the referenced resource cannot be deleted while this one names it.
	blocksDelete bool
	// optionalTarget: the referenced resource need not exist (the API keeps stale links).
	optionalTarget bool
	// sameProject: the referenced resource must be in the resource's own
	// project. A firewall rule, a route or a subnetwork lives in its
	// network's project (Shared VPC's host project), which the API
	// enforces this way.
	sameProject bool
}

var kinds = map[string]*kind{}

func register(k *kind) {
	if k.collection == "" {
		k.collection = k.resource
	}
	if k.kindName == "" {
		k.kindName = "compute#" + lowerFirst(k.schema)
	}
	kinds[k.resource] = k
}

// specialHandlers serve methods of resources that are not stored kinds
// (projects, regions, zones, operations, images ...), by method id.
var specialHandlers = map[string]handler{}

func kindFor(m *apiMethod, rt *router) *kind {
	if k, ok := kinds[m.Resource]; ok {
		return k
	}
	// The generic kind: the schema is what get answers.
	schema := ""
	if g := rt.byID["compute."+m.Resource+".get"]; g != nil {
		schema = g.Response
	}
	k := &kind{resource: m.Resource, collection: m.Resource, schema: schema}
	if schema != "" {
		k.kindName = "compute#" + lowerFirst(schema)
	}
	return k
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// visitRefs calls fn for each value at a ref path; fn returns the new value.
func visitRefs(obj map[string]any, path string, fn func(v string, at string) (string, error)) error {
	return visit(obj, strings.Split(path, "."), path, fn)
}

func visit(obj map[string]any, parts []string, at string, fn func(string, string) (string, error)) error {
	key := parts[0]
	isList := strings.HasSuffix(key, "[]")
	key = strings.TrimSuffix(key, "[]")
	v, ok := obj[key]
	if !ok || v == nil {
		return nil
	}
	if !isList {
		if len(parts) == 1 {
			s, ok := v.(string)
			if !ok || s == "" {
				return nil
			}
			ns, err := fn(s, at)
			if err != nil {
				return err
			}
			if ns != s {
				obj[key] = ns
			}
			return nil
		}
		child, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		return visit(child, parts[1:], at, fn)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	for i, e := range arr {
		if len(parts) == 1 {
			s, ok := e.(string)
			if !ok {
				continue
			}
			ns, err := fn(s, at)
			if err != nil {
				return err
			}
			if ns != s {
				arr[i] = ns
			}
			continue
		}
		child, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if err := visit(child, parts[1:], at, fn); err != nil {
			return err
		}
	}
	return nil
}

// resolveRefs rewrites every reference of obj to a full link and checks that
// its target exists (a missing target is a 400, as the API answers it).
func resolveRefs(t *tx, c *call, k *kind, obj map[string]any) error {
	for _, rs := range k.refs {
		rs := rs
		err := visitRefs(obj, rs.path, func(v, at string) (string, error) {
			def := c.def(rs.collection)
			switch rs.scope {
			case "global":
				def.Region, def.Zone = "", ""
			case "region":
				def.Zone = ""
			}
			r, ok := parseRef(v, def)
			if !ok || (rs.collection != "" && r.Collection != rs.collection) {
				return "", invalidValue("resource."+rs.path, v, "The URL is malformed.")
			}
			if rs.sameProject && r.Project != c.project {
				return "", invalidValue("resource."+rs.path, v, "Cross project referencing is not allowed for this resource.")
			}
			if !rs.optionalTarget && t.get(r.coll(), r.Name) == nil {
				return "", invalidValue("resource."+rs.path, v, "The referenced "+singular(r.Collection)+" resource cannot be found.")
			}
			return r.link(), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// singular names a collection's resource in messages: "firewalls" -> "firewall".
func singular(collection string) string {
	switch {
	case strings.HasSuffix(collection, "ies"):
		return strings.TrimSuffix(collection, "ies") + "y"
	case strings.HasSuffix(collection, "sses"):
		return strings.TrimSuffix(collection, "es")
	case strings.HasSuffix(collection, "s"):
		return strings.TrimSuffix(collection, "s")
	}
	return collection
}

// users returns the links of resources whose blocking references point at
// link, so that a delete can answer "being used by".
func users(t *tx, project, link string) []string {
	target, ok := parseRef(link, ref{})
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range kinds {
		for _, rs := range k.refs {
			if !rs.blocksDelete || (rs.collection != "" && rs.collection != target.Collection) {
				continue
			}
			for _, o := range t.listAll(project, k.collection) {
				if str(o, "kind") != k.kindName {
					continue
				}
				visitRefs(o, rs.path, func(v, _ string) (string, error) {
					if self := str(o, "selfLink"); v == link && !seen[self] {
						seen[self] = true
						out = append(out, self)
					}
					return v, nil
				})
			}
		}
	}
	return out
}

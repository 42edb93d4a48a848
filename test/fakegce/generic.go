package fakegce

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// The generic methods: what every stored resource type does unless its kind
// says more.

func genericGet(c *call) (any, error) {
	c.s.st.mu.RLock()
	defer c.s.st.mu.RUnlock()
	e := c.s.st.get(c.coll, c.name)
	if e == nil {
		return nil, notFound(c.resourcePath(c.name))
	}
	return e.raw, nil
}

// commonFields sets what the server owns on every new resource.
func commonFields(c *call, obj map[string]any, name string) {
	obj["kind"] = c.kind.kindName
	obj["id"] = c.resourceID
	obj["name"] = name
	obj["creationTimestamp"] = timestamp(c.now)
	obj["selfLink"] = c.link(name)
	if c.s.rt.hasField(c.kind.schema, "selfLinkWithId") {
		// The API answers the link by id for the types whose schema has it
		// (networks, forwarding rules): the recordings show it on both.
		obj["selfLinkWithId"] = linkBase + c.coll + "/" + c.resourceID
	}
	c.scopeFields(obj)
}

func genericInsert(t *tx, c *call) error {
	obj := copyObj(c.body)
	name := str(obj, "name")
	if name == "" {
		return required("resource.name")
	}
	if !validName(name) {
		return invalidValue("resource.name", name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	if t.get(c.coll, name) != nil {
		return alreadyExists(c.resourcePath(name))
	}
	if err := c.s.checkQuota(t, c); err != nil {
		return err
	}
	commonFields(c, obj, name)
	if c.kind.fill != nil {
		if err := c.kind.fill(t, c, obj); err != nil {
			return err
		}
	}
	describeEmpty(c, obj)
	if err := resolveRefs(t, c, c.kind, obj); err != nil {
		return err
	}
	if c.kind.prepare != nil {
		if err := c.kind.prepare(t, c, obj, nil); err != nil {
			return err
		}
	}
	stampFingerprints(c, obj)
	t.put(c.coll, name, obj)
	return nil
}

// emptyDescription are the collections whose resources the API answers with
// "description": "" when the client sent none; the others leave it out. Both
// are in the recordings of the real API (fixtures/gcp-http-logs): "" for a
// firewall, an address, a regional backend service, an instance group, a
// target pool, an HTTP health check and an instance template; absent for a
// network, a subnetwork, a route, an instance, a disk and a health check.
// Kinds in neither list leave it out (a guess).
var emptyDescription = map[string]bool{
	"firewalls": true, "addresses": true, "backendServices": true, "instanceGroups": true,
	"targetPools": true, "httpHealthChecks": true, "instanceTemplates": true,
}

// describeEmpty sets the description a client left out where the API
// answers it empty.
func describeEmpty(c *call, obj map[string]any) {
	if emptyDescription[c.kind.collection] {
		setDefault(obj, "description", "")
	}
}

// stampFingerprints refreshes the fingerprints a resource carries.
func stampFingerprints(c *call, obj map[string]any) {
	if c.s.rt.hasField(c.kind.schema, "labelFingerprint") {
		obj["labelFingerprint"] = fingerprintOf(labelsOf(obj))
	}
	if c.kind.fingerprint {
		obj["fingerprint"] = resourceFingerprint(obj)
	}
}

func genericDelete(t *tx, c *call) error {
	obj := t.get(c.coll, c.name)
	if obj == nil {
		return notFound(c.resourcePath(c.name))
	}
	// beforeDelete runs first: it may delete what the resource owns (a
	// network's default route), which must not count as a user.
	if c.kind.beforeDelete != nil {
		if err := c.kind.beforeDelete(t, c, obj); err != nil {
			return err
		}
	}
	if us := users(t, c.project, str(obj, "selfLink")); len(us) > 0 {
		err := inUse(singular(c.kind.collection), c.resourcePath(c.name), strings.TrimPrefix(us[0], linkBase))
		if inUseInOperation[c.kind.collection] {
			return err.reportedInOperation()
		}
		return err
	}
	t.del(c.coll, c.name)
	return nil
}

// outputOnly are the fields a client cannot change with patch or update.
var outputOnly = []string{"kind", "id", "creationTimestamp", "selfLink", "selfLinkWithId", "region", "zone", "fingerprint", "labelFingerprint"}

func genericPatch(t *tx, c *call) error {
	old := t.get(c.coll, c.name)
	if old == nil {
		return notFound(c.resourcePath(c.name))
	}
	if err := checkFingerprint(c, old); err != nil {
		return err
	}
	patch := copyObj(c.body)
	for _, f := range outputOnly {
		delete(patch, f)
	}
	if n, ok := patch["name"]; ok && n != c.name {
		return invalidValue("resource.name", n, "The name of a resource cannot be changed.")
	}
	return replaceResource(t, c, old, mergePatch(old, patch))
}

func genericUpdate(t *tx, c *call) error {
	old := t.get(c.coll, c.name)
	if old == nil {
		return notFound(c.resourcePath(c.name))
	}
	if err := checkFingerprint(c, old); err != nil {
		return err
	}
	obj := copyObj(c.body)
	if n, ok := obj["name"]; ok && n != c.name {
		return invalidValue("resource.name", n, "The name of a resource cannot be changed.")
	}
	for _, f := range outputOnly {
		delete(obj, f)
		if v, ok := old[f]; ok {
			obj[f] = v
		}
	}
	obj["name"] = c.name
	for k, v := range old {
		if strings.HasPrefix(k, internalPrefix) {
			obj[k] = v
		}
	}
	describeEmpty(c, obj)
	return replaceResource(t, c, old, obj)
}

func replaceResource(t *tx, c *call, old, obj map[string]any) error {
	if err := resolveRefs(t, c, c.kind, obj); err != nil {
		return err
	}
	if c.kind.prepare != nil {
		if err := c.kind.prepare(t, c, obj, old); err != nil {
			return err
		}
	}
	stampFingerprints(c, obj)
	t.put(c.coll, c.name, obj)
	return nil
}

// checkFingerprint enforces optimistic locking on patch and update: a
// fingerprint that is sent must be the current one (412 conditionNotMet, as
// the discovery document's BackendService.fingerprint says). It is looser
// than the API in one way: the BackendService and Subnetwork fingerprint
// descriptions say an update without an up-to-date fingerprint fails, and
// here a missing fingerprint is accepted.
func checkFingerprint(c *call, old map[string]any) error {
	if !c.kind.fingerprint {
		return nil
	}
	fp, ok := c.body["fingerprint"].(string)
	if ok && fp != "" && fp != str(old, "fingerprint") {
		return fingerprintMismatch(singular(c.kind.collection))
	}
	return nil
}

// genericSetLabels serves every setLabels method: the body is
// {labels, labelFingerprint}, and the fingerprint must be the current one.
func genericSetLabels(t *tx, c *call) error {
	old := t.get(c.coll, c.name)
	if old == nil {
		return notFound(c.resourcePath(c.name))
	}
	if fp := str(c.body, "labelFingerprint"); fp != str(old, "labelFingerprint") {
		return errorf(http.StatusPreconditionFailed, "conditionNotMet", "Labels fingerprint either invalid or resource labels have changed")
	}
	labels := objField(c.body, "labels")
	if err := validateLabels(labels); err != nil {
		return err
	}
	obj := copyObj(old)
	if len(labels) == 0 {
		delete(obj, "labels")
	} else {
		obj["labels"] = deepCopy(labels)
	}
	stampFingerprints(c, obj)
	t.put(c.coll, c.name, obj)
	return nil
}

// validateLabels enforces https://cloud.google.com/resource-manager/docs/labels-overview#requirements
// (at most 64 labels; keys 1-63 characters starting with a lowercase letter;
// values at most 63). It is stricter than that page in one way: the page
// also allows international characters, which are refused here.
func validateLabels(labels map[string]any) error {
	if len(labels) > 64 {
		return invalid("Invalid value for field 'labels': at most 64 labels are allowed.")
	}
	for k, v := range labels {
		s, _ := v.(string)
		if k == "" || len(k) > 63 || !labelRE.MatchString(k) || k[0] < 'a' || k[0] > 'z' {
			return invalidValue("labels", k, "Label keys must start with a lowercase letter and contain only lowercase letters, digits, underscores and dashes, at most 63 characters.")
		}
		if len(s) > 63 || (s != "" && !labelRE.MatchString(s)) {
			return invalidValue(fmt.Sprintf("labels.%s", k), s, "Label values contain only lowercase letters, digits, underscores and dashes, at most 63 characters.")
		}
	}
	return nil
}

var labelRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

package fakegce

import (
	"fmt"
	"strings"
)

// Target pools, health checks and backend services: the back end of a load balancer.

func init() {
	register(&kind{resource: "targetPools", schema: "TargetPool", quota: "TARGET_POOLS",
		refs: []refSpec{
			{path: "healthChecks[]", collection: "httpHealthChecks", scope: "global", blocksDelete: true},
			{path: "instances[]", collection: "instances", scope: "zone"},
			{path: "backupPool", collection: "targetPools", scope: "region", blocksDelete: true},
		},
		prepare: prepareTargetPool,
		custom: map[string]handler{
			"addInstance":       {mutation: &mutation{apply: poolMembers("instances", "instance", "instances", true), opType: "AddInstance"}},
			"removeInstance":    {mutation: &mutation{apply: poolMembers("instances", "instance", "instances", false), opType: "RemoveInstance"}},
			"addHealthCheck":    {mutation: &mutation{apply: poolMembers("healthChecks", "healthCheck", "httpHealthChecks", true), opType: "AddHealthCheck"}},
			"removeHealthCheck": {mutation: &mutation{apply: poolMembers("healthChecks", "healthCheck", "httpHealthChecks", false), opType: "RemoveHealthCheck"}},
			"getHealth":         {read: targetPoolHealth},
		}})
	register(&kind{resource: "httpHealthChecks", schema: "HttpHealthCheck", quota: "HEALTH_CHECKS", prepare: prepareHTTPHealthCheck})
	register(&kind{resource: "healthChecks", schema: "HealthCheck", quota: "HEALTH_CHECKS", prepare: prepareHealthCheck})
	register(&kind{resource: "regionHealthChecks", collection: "healthChecks", schema: "HealthCheck", quota: "HEALTH_CHECKS", prepare: prepareHealthCheck})
	backendRefs := []refSpec{
		{path: "healthChecks[]", scope: "global", blocksDelete: true},
		{path: "backends[].group", collection: "instanceGroups", scope: "zone", blocksDelete: true},
		{path: "network", collection: "networks", scope: "global", blocksDelete: true},
	}
	register(&kind{resource: "regionBackendServices", collection: "backendServices", schema: "BackendService",
		quota: "BACKEND_SERVICES", fingerprint: true, refs: backendRefs, prepare: prepareBackendService,
		custom: map[string]handler{"getHealth": {read: backendServiceHealth}}})
	register(&kind{resource: "backendServices", schema: "BackendService",
		quota: "BACKEND_SERVICES", fingerprint: true, refs: backendRefs, prepare: prepareBackendService,
		custom: map[string]handler{"getHealth": {read: backendServiceHealth}}})
}

// maxTargetPoolInsertInstances is the most instances a target pool is
// created with; more go in with addInstance. The limit is the upstream GCE
// provider's (kubernetes/kubernetes#27829, "this actually meets the GCE API
// specifications": kubernetes/cloud-provider-gcp
// providers/gce/gce_loadbalancer_external.go, maxTargetPoolCreateInstances).
// The error's wording is a guess: no source records the real one.
const maxTargetPoolInsertInstances = 200

func prepareTargetPool(t *tx, c *call, obj, old map[string]any) error {
	setDefault(obj, "sessionAffinity", "NONE")
	if len(list(obj, "healthChecks")) > 1 {
		return invalidValue("resource.healthChecks", jsonText(obj["healthChecks"]), "A target pool has at most one health check.")
	}
	if n := len(list(obj, "instances")); old == nil && n > maxTargetPoolInsertInstances {
		return invalidValue("resource.instances", n, "A target pool is created with at most "+itoa(maxTargetPoolInsertInstances)+
			" instances; add the others with addInstance.")
	}
	if len(list(obj, "instances")) == 0 {
		delete(obj, "instances")
	}
	return nil
}

// poolMembers serves addInstance/removeInstance/addHealthCheck/removeHealthCheck:
// the body lists {itemKey: link} under listKey; members are unique.
func poolMembers(listKey, itemKey, collection string, add bool) func(t *tx, c *call) error {
	return func(t *tx, c *call) error {
		old := t.get(c.coll, c.name)
		if old == nil {
			return notFound(c.resourcePath(c.name))
		}
		obj := copyObj(old)
		members := strList(obj, listKey)
		for i, it := range list(c.body, listKey) {
			m, _ := it.(map[string]any)
			v := str(m, itemKey)
			if v == "" {
				return required(listKey + "[" + itoa(i) + "]." + itemKey)
			}
			def := c.def(collection)
			def.Region, def.Zone = "", ""
			r, ok := parseRef(v, def)
			if !ok || r.Collection != collection {
				return invalidValue(listKey+"["+itoa(i)+"]."+itemKey, v, "The URL is malformed.")
			}
			link := r.link()
			idx := indexOf(members, link)
			switch {
			case add && idx >= 0:
				return errorf(400, "memberAlreadyExists", "The resource '%s' is already a member of '%s'", r.path(), c.resourcePath(c.name))
			case add:
				if t.get(r.coll(), r.Name) == nil {
					return invalidValue(listKey+"["+itoa(i)+"]."+itemKey, v, "The referenced "+singular(collection)+" resource cannot be found.")
				}
				members = append(members, link)
			case idx < 0:
				return errorf(400, "memberNotFound", "The resource '%s' is not a member of '%s'", r.path(), c.resourcePath(c.name))
			default:
				members = append(members[:idx], members[idx+1:]...)
			}
		}
		if listKey == "healthChecks" && len(members) > 1 {
			return invalid("Invalid value for field 'healthChecks': a target pool has at most one health check.")
		}
		if len(members) == 0 {
			delete(obj, listKey)
		} else {
			obj[listKey] = toAnyList(members)
		}
		t.put(c.coll, c.name, obj)
		return nil
	}
}

func indexOf(l []string, s string) int {
	for i, e := range l {
		if e == s {
			return i
		}
	}
	return -1
}

// instanceHealth is what the fake reports for a backend checked by checks,
// over IPv4 or IPv6: what the packet lab's prober reported (PUT
// /admin/v1/health) when it did, else a running instance is healthy (the
// fake itself sends no packets).
func (s *Server) instanceHealth(checks []string, inst map[string]any, ipv6 bool) string {
	if inst == nil || str(inst, "status") != "RUNNING" {
		return "UNHEALTHY"
	}
	if st := s.health.state(checks, str(inst, "selfLink"), ipv6); st != "" {
		return st
	}
	return "HEALTHY"
}

func targetPoolHealth(c *call) (any, error) {
	c.s.st.mu.RLock()
	defer c.s.st.mu.RUnlock()
	t := c.s.st.begin()
	pool := t.get(c.coll, c.name)
	if pool == nil {
		return nil, notFound(c.resourcePath(c.name))
	}
	r, ok := parseRef(str(c.body, "instance"), c.def("instances"))
	if !ok || indexOf(strList(pool, "instances"), r.link()) < 0 {
		return nil, invalidValue("instance", str(c.body, "instance"), "The instance is not a member of the target pool.")
	}
	inst := t.get(r.coll(), r.Name)
	state := c.s.instanceHealth(strList(pool, "healthChecks"), inst, false)
	var statuses []any
	for _, fr := range t.listAll(c.project, "forwardingRules") {
		if str(fr, "target") == str(pool, "selfLink") {
			statuses = append(statuses, map[string]any{"instance": r.link(), "ipAddress": str(fr, "IPAddress"), "healthState": state})
		}
	}
	if statuses == nil {
		statuses = []any{map[string]any{"instance": r.link(), "healthState": state}}
	}
	return map[string]any{"kind": "compute#targetPoolInstanceHealth", "healthStatus": statuses}, nil
}

func checkIntervals(obj map[string]any) error {
	setDefault(obj, "checkIntervalSec", num(5))
	setDefault(obj, "timeoutSec", num(5))
	setDefault(obj, "healthyThreshold", num(2))
	setDefault(obj, "unhealthyThreshold", num(2))
	iv, _ := intField(obj, "checkIntervalSec")
	to, _ := intField(obj, "timeoutSec")
	if iv < 1 || iv > 300 {
		return invalidValue("resource.checkIntervalSec", iv, "Must be from 1 to 300.")
	}
	if to < 1 || to > iv {
		return invalidValue("resource.timeoutSec", to, "Must be from 1 to checkIntervalSec.")
	}
	for _, k := range []string{"healthyThreshold", "unhealthyThreshold"} {
		if v, _ := intField(obj, k); v < 1 || v > 10 {
			return invalidValue("resource."+k, v, "Must be from 1 to 10.")
		}
	}
	return nil
}

func checkPort(obj map[string]any, field string) error {
	if p, ok := intField(obj, "port"); ok && (p < 1 || p > 65535) {
		return invalidValue(field, p, "Must be from 1 to 65535.")
	}
	return nil
}

func prepareHTTPHealthCheck(t *tx, c *call, obj, old map[string]any) error {
	setDefault(obj, "port", num(80))
	setDefault(obj, "requestPath", "/")
	// The API answers an unset host as "" (the probe then sends the
	// instance's address as the Host header).
	setDefault(obj, "host", "")
	if err := checkPort(obj, "resource.port"); err != nil {
		return err
	}
	if !strings.HasPrefix(str(obj, "requestPath"), "/") {
		return invalidValue("resource.requestPath", str(obj, "requestPath"), "Must start with /.")
	}
	return checkIntervals(obj)
}

var healthCheckTypes = map[string]string{
	"TCP": "tcpHealthCheck", "SSL": "sslHealthCheck", "HTTP": "httpHealthCheck",
	"HTTPS": "httpsHealthCheck", "HTTP2": "http2HealthCheck", "GRPC": "grpcHealthCheck",
}

func prepareHealthCheck(t *tx, c *call, obj, old map[string]any) error {
	typ := str(obj, "type")
	if typ == "" {
		for tn, field := range healthCheckTypes {
			if objField(obj, field) != nil {
				typ = tn
			}
		}
		if typ == "" {
			return required("resource.type")
		}
		obj["type"] = typ
	}
	field, ok := healthCheckTypes[typ]
	if !ok {
		return invalidValue("resource.type", typ, "Must be one of TCP, SSL, HTTP, HTTPS, HTTP2, GRPC.")
	}
	for _, f := range healthCheckTypes {
		if f != field {
			delete(obj, f)
		}
	}
	spec := objField(obj, field)
	if spec == nil {
		spec = map[string]any{}
		obj[field] = spec
	}
	if _, ok := spec["portName"]; !ok && str(spec, "portSpecification") != "USE_SERVING_PORT" {
		setDefault(spec, "port", num(defaultHealthPort(typ)))
	}
	if typ != "GRPC" {
		setDefault(spec, "proxyHeader", "NONE")
	}
	if typ == "HTTP" || typ == "HTTPS" || typ == "HTTP2" {
		setDefault(spec, "requestPath", "/")
	}
	if err := checkPort(spec, "resource."+field+".port"); err != nil {
		return err
	}
	return checkIntervals(obj)
}

func defaultHealthPort(typ string) int64 {
	switch typ {
	case "HTTPS", "SSL", "HTTP2":
		return 443
	}
	return 80
}

func prepareBackendService(t *tx, c *call, obj, old map[string]any) error {
	regional := c.region != ""
	if regional {
		setDefault(obj, "loadBalancingScheme", "INTERNAL")
	} else {
		setDefault(obj, "loadBalancingScheme", "EXTERNAL")
	}
	setDefault(obj, "protocol", map[bool]string{true: "TCP", false: "HTTP"}[regional])
	setDefault(obj, "sessionAffinity", "NONE")
	setDefault(obj, "timeoutSec", num(30))
	if objField(obj, "connectionDraining") == nil {
		obj["connectionDraining"] = map[string]any{"drainingTimeoutSec": num(0)}
	}
	if len(list(obj, "healthChecks")) == 0 {
		return invalidValue("resource.healthChecks", "", "A backend service needs a health check.")
	}
	seen := map[string]bool{}
	for i, b := range list(obj, "backends") {
		be, _ := b.(map[string]any)
		g := str(be, "group")
		if g == "" {
			return required("resource.backends[" + itoa(i) + "].group")
		}
		if seen[g] {
			return invalidValue("resource.backends", g, "Duplicate backend group.")
		}
		seen[g] = true
		setDefault(be, "balancingMode", "CONNECTION")
	}
	if len(list(obj, "backends")) == 0 {
		// An empty repeated field is absent from the API's answers.
		delete(obj, "backends")
	}
	if old != nil && str(obj, "protocol") != str(old, "protocol") {
		for _, fr := range t.listAll(c.project, "forwardingRules") {
			if str(fr, "backendService") == str(old, "selfLink") && !protocolFits(str(fr, "IPProtocol"), str(obj, "protocol")) {
				return backendProtocolInUse(str(obj, "protocol"), fr)
			}
		}
	}
	return nil
}

// protocolFits: a forwarding rule's protocol must be its backend service's,
// unless the backend service's is UNSPECIFIED, which "can be used with any
// L3/L4 Forwarding Rules" (the discovery document, BackendService.protocol);
// an L3_DEFAULT rule needs UNSPECIFIED. The insert of a rule that does not
// fit answers "invalid backend service protocol TCP for forwarding rule with
// protocol UDP" (a real answer quoted in
// PaloAltoNetworks/terraform-google-swfw-modules#72).
func protocolFits(rule, backendService string) bool {
	return backendService == "UNSPECIFIED" || rule == backendService
}

// backendProtocolInUse refuses a protocol change under a rule that no longer
// fits. The refusal itself is upstream's reason to delete the forwarding
// rule first (kubernetes/cloud-provider-gcp
// providers/gce/gce_loadbalancer_internal.go: "changing protocol of backend
// service without first deleting forwarding rule will throw an error"); the
// message's wording is a guess in the shape of the insert's.
func backendProtocolInUse(protocol string, fr map[string]any) *apiError {
	return invalidValue("resource.protocol", protocol, fmt.Sprintf(
		"invalid backend service protocol %s for forwarding rule %s with protocol %s.", protocol, str(fr, "selfLink"), str(fr, "IPProtocol")))
}

func backendServiceHealth(c *call) (any, error) {
	c.s.st.mu.RLock()
	defer c.s.st.mu.RUnlock()
	t := c.s.st.begin()
	bs := t.get(c.coll, c.name)
	if bs == nil {
		return nil, notFound(c.resourcePath(c.name))
	}
	r, ok := parseRef(str(c.body, "group"), c.def("instanceGroups"))
	if !ok {
		return nil, invalidValue("group", str(c.body, "group"), "The URL is malformed.")
	}
	isBackend := false
	for _, b := range list(bs, "backends") {
		if be, _ := b.(map[string]any); str(be, "group") == r.link() {
			isBackend = true
		}
	}
	if !isBackend {
		return nil, invalidValue("group", str(c.body, "group"), "The group is not a backend of the backend service.")
	}
	group := t.get(r.coll(), r.Name)
	var frs []map[string]any
	dualStack := false
	for _, fr := range t.listAll(c.project, "forwardingRules") {
		if str(fr, "backendService") == str(bs, "selfLink") {
			frs = append(frs, fr)
			dualStack = dualStack || str(fr, "ipVersion") == "IPV6"
		}
	}
	var statuses []any
	for _, m := range strList(group, "__members") {
		mr, _ := parseRef(m, ref{})
		inst := t.get(mr.coll(), mr.Name)
		st := map[string]any{"instance": m, "healthState": c.s.instanceHealth(strList(bs, "healthChecks"), inst, false)}
		if nic := firstNIC(inst); nic != nil {
			st["ipAddress"] = str(nic, "networkIP")
			// A backend service an IPv6 forwarding rule uses checks its
			// backends over IPv6 too, and answers that state apart.
			if ip6 := str(nic, "ipv6Address"); dualStack && ip6 != "" {
				st["ipv6Address"] = ip6
				st["ipv6HealthState"] = c.s.instanceHealth(strList(bs, "healthChecks"), inst, true)
			}
		}
		if len(frs) > 0 {
			st["forwardingRule"] = str(frs[0], "selfLink")
			st["forwardingRuleIp"] = str(frs[0], "IPAddress")
		}
		statuses = append(statuses, st)
	}
	out := map[string]any{"kind": "compute#backendServiceGroupHealth"}
	if statuses != nil {
		out["healthStatus"] = statuses
	}
	return out, nil
}

package fakegce

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// call is one compute API request, routed and decoded.
type call struct {
	ctx     context.Context
	s       *Server
	m       *apiMethod
	params  map[string]string
	query   url.Values
	body    map[string]any
	project string
	region  string
	zone    string
	// coll is the store collection the method works on
	// ("projects/p/regions/r/forwardingRules"); name is the resource named in
	// the path ("" for insert and list).
	coll string
	name string
	kind *kind
	now  time.Time
	// resourceID is the id a new resource gets (insert), chosen when the
	// request is accepted so the operation can name it as its targetId.
	resourceID string
}

// def is the reference context of the call: a bare name in a request resolves
// in the caller's project, region and zone.
func (c *call) def(collection string) ref {
	return ref{Project: c.project, Region: c.region, Zone: c.zone, Collection: collection}
}

// resourcePath is projects/p/.../coll/name for the resource the call names.
func (c *call) resourcePath(name string) string { return c.coll + "/" + name }

func (c *call) link(name string) string { return linkBase + c.resourcePath(name) }

func (c *call) scopeFields(obj map[string]any) {
	if c.zone != "" {
		obj["zone"] = scopeLink(c.project, "zones", c.zone)
	} else if c.region != "" {
		obj["region"] = scopeLink(c.project, "regions", c.region)
	}
}

func (s *Server) serveCompute(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Requests refused for their credentials are not logged: anyone who can
	// reach the port could fill the log with them.
	if err := s.authorize(r); err != nil {
		writeError(w, err)
		s.m.observe("", err.Code, time.Since(start))
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	methodID := s.handleCompute(rec, r)
	d := time.Since(start)
	s.calls.add(callRecord{
		Time: start.UTC(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		API: methodID, Status: rec.status, Duration: d.Seconds(),
	})
	s.m.observe(methodID, rec.status, d)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// handleCompute serves one request and returns the API method id it matched.
func (s *Server) handleCompute(w http.ResponseWriter, r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/compute/v1/")
	m, params := s.rt.match(r.Method, path)
	methodID := ""
	if m != nil {
		methodID = m.ID
	}
	fault := s.faults.match(r.Method, r.URL.Path, methodID, s.float64)
	if fault != nil && fault.latency > 0 {
		select {
		case <-time.After(fault.latency):
		case <-r.Context().Done():
			return methodID
		}
	}
	if fault != nil && fault.Code != 0 && !fault.FailOperation {
		writeError(w, fault.apiError())
		return methodID
	}
	if m == nil {
		if s.rt.knowsPath(path) {
			writeError(w, errorf(http.StatusMethodNotAllowed, "httpMethodNotAllowed", "HTTP method %s is not supported by this URL", r.Method))
		} else {
			writeError(w, errorf(http.StatusNotFound, "notFound", "The requested URL /compute/v1/%s was not found on this server.", path))
		}
		return methodID
	}
	s.ops.advance()
	c, err := s.newCall(r, m, params)
	if err != nil {
		writeError(w, asAPIError(err))
		return methodID
	}
	h, ok := s.handlerFor(c)
	if !ok {
		writeError(w, errorf(http.StatusNotImplemented, "notImplemented", "fake-gce does not implement %s.", m.ID))
		return methodID
	}
	var result any
	if h.read != nil {
		result, err = h.read(c)
	} else {
		var failure *apiError
		if fault != nil && fault.FailOperation {
			failure = fault.apiError()
		}
		result, err = s.mutate(r, c, h.mutation, failure)
	}
	if err != nil {
		writeError(w, asAPIError(err))
		return methodID
	}
	writeJSON(w, result)
	return methodID
}

func (s *Server) authorize(r *http.Request) *apiError {
	if s.cfg.RequireToken == "" {
		return nil
	}
	got := r.Header.Get("Authorization")
	if got == "" {
		return errorf(http.StatusUnauthorized, "required", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	}
	if got != "Bearer "+s.cfg.RequireToken {
		return errorf(http.StatusUnauthorized, "authError", "Invalid Credentials")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	switch b := v.(type) {
	case []byte:
		w.Write(b)
	case json.RawMessage:
		w.Write(b)
	default:
		json.NewEncoder(w).Encode(v)
	}
}

// newCall decodes the request and checks that the project, region and zone in
// the path exist.
func (s *Server) newCall(r *http.Request, m *apiMethod, params map[string]string) (*call, error) {
	c := &call{ctx: r.Context(), s: s, m: m, params: params, query: r.URL.Query(), now: time.Now()}
	c.project = params["project"]
	if m.ID == "compute.projects.get" {
		// A project number reads the project: the upstream GCE provider
		// turns a numeric gce.conf project-id into the id this way
		// (kubernetes/cloud-provider-gcp providers/gce/gce.go, getProjectID).
		c.project = s.cat.projectOfNumber(c.project)
	}
	c.region = params["region"]
	c.zone = params["zone"]
	if err := s.cat.checkScope(m, c.project, c.region, c.zone); err != nil {
		return nil, err
	}
	if c.zone != "" && c.region == "" {
		c.region = regionOfZone(c.zone, s.cfg.Regions)
	}
	c.coll, c.name = collectionOf(m, params)
	c.kind = kindFor(m, s.rt)
	if m.Request != "" {
		body, err := s.rt.decodeBody(r.Body, m.Request)
		if err != nil {
			return nil, err
		}
		c.body = body
	}
	return c, nil
}

// collectionOf derives the store collection and resource name from the
// method's path template: projects/{project}/{global|regions/{region}|zones/{zone}}/COLL/{name}/...
func collectionOf(m *apiMethod, params map[string]string) (coll, name string) {
	segs := m.segments
	if len(segs) < 3 || segs[0].literal != "projects" {
		return "", ""
	}
	base := "projects/" + params["project"]
	i := 2
	switch segs[i].literal {
	case "global":
		base += "/global"
		i++
	case "regions", "zones":
		// projects/{project}/regions and projects/{project}/regions/{region}
		// are the catalog itself, not a scope.
		if len(segs) == i+1 {
			return base + "/" + segs[i].literal, ""
		}
		if len(segs) == i+2 {
			return base + "/" + segs[i].literal, params[segs[i+1].param]
		}
		base += "/" + segs[i].literal + "/" + params[segs[i+1].param]
		i += 2
	case "aggregated":
		return "", ""
	}
	if i >= len(segs) || segs[i].literal == "" {
		return "", ""
	}
	coll = base + "/" + segs[i].literal
	if i+1 < len(segs) && segs[i+1].param != "" {
		name = params[segs[i+1].param]
	}
	return coll, name
}

// handler is what serves one method: a read, or a mutation that runs as an operation.
type handler struct {
	read     func(c *call) (any, error)
	mutation *mutation
}

// mutation changes state. apply runs inside a transaction, when the operation
// completes (and also, discarded, when the request arrives while operations take
// time, so that a bad request still answers 4xx at once, as the API does).
type mutation struct {
	apply  func(t *tx, c *call) error
	opType string
}

func (s *Server) handlerFor(c *call) (handler, bool) {
	k := c.kind
	if h, ok := k.custom[c.m.Verb]; ok {
		return h, true
	}
	if h, ok := specialHandlers[c.m.ID]; ok {
		return h, true
	}
	if k.readOnly {
		switch c.m.Verb {
		case "get", "list", "aggregatedList":
		default:
			return handler{}, false
		}
	}
	switch c.m.Verb {
	case "get":
		return handler{read: genericGet}, true
	case "list":
		return handler{read: genericList}, true
	case "aggregatedList":
		return handler{read: genericAggregatedList}, true
	case "insert":
		return handler{mutation: &mutation{apply: genericInsert}}, true
	case "delete":
		return handler{mutation: &mutation{apply: genericDelete}}, true
	case "patch":
		return handler{mutation: &mutation{apply: genericPatch}}, true
	case "update":
		return handler{mutation: &mutation{apply: genericUpdate}}, true
	case "setLabels":
		return handler{mutation: &mutation{apply: genericSetLabels}}, true
	}
	return handler{}, false
}

// operationType is the string the API puts in an operation for a method. The
// API is not uniform here; these are the values seen in recordings.
func operationType(m *apiMethod, mu *mutation) string {
	if mu.opType != "" {
		return mu.opType
	}
	switch m.Resource {
	case "instanceGroups", "instanceTemplates":
		return "compute." + m.Resource + "." + m.Verb
	}
	if m.ID == "compute.networks.patch" {
		return m.ID
	}
	return m.Verb
}

func (c *call) ctxDone() <-chan struct{} {
	if c.ctx == nil {
		return nil
	}
	return c.ctx.Done()
}

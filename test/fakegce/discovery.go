package fakegce

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// discovery.json.gz is the compute v1 discovery document shipped with
// google.golang.org/api/compute/v1, trimmed by hack/gen-discovery (make generate).
// It is the source of truth for paths, verbs, parameters and body schemas, so that
// the fake routes exactly the URLs the official clients build.
//
//go:embed discovery.json.gz
var discoveryGz []byte

type schemaProp struct {
	Type                 string                 `json:"type"`
	Format               string                 `json:"format"`
	Ref                  string                 `json:"$ref"`
	Items                *schemaProp            `json:"items"`
	AdditionalProperties *schemaProp            `json:"additionalProperties"`
	Properties           map[string]*schemaProp `json:"properties"`
	Enum                 []string               `json:"enum"`
	ReadOnly             bool                   `json:"readOnly"`
	Location             string                 `json:"location"`
	Required             bool                   `json:"required"`
	Repeated             bool                   `json:"repeated"`
}

type discoveryMethod struct {
	ID         string                 `json:"id"`
	HTTPMethod string                 `json:"httpMethod"`
	Path       string                 `json:"path"`
	Parameters map[string]*schemaProp `json:"parameters"`
	Request    *schemaProp            `json:"request"`
	Response   *schemaProp            `json:"response"`
}

type discoveryDoc struct {
	Revision  string `json:"revision"`
	Resources map[string]struct {
		Methods map[string]*discoveryMethod `json:"methods"`
	} `json:"resources"`
	Schemas map[string]*schemaProp `json:"schemas"`
}

// apiMethod is one routable method of the compute API.
type apiMethod struct {
	ID         string // compute.firewalls.insert
	Resource   string // firewalls (the discovery resource name)
	Verb       string // insert
	HTTPMethod string
	segments   []pathSegment
	literals   int
	Request    string // request schema name, "" when the method takes no body
	Response   string // response schema name
	Params     map[string]*schemaProp
}

type pathSegment struct {
	literal string
	param   string
}

type router struct {
	doc     *discoveryDoc
	byShape map[string][]*apiMethod // "GET/5" -> candidates, most literal segments first
	byID    map[string]*apiMethod
}

var (
	loadRouterOnce sync.Once
	sharedRouter   *router
	routerErr      error
)

func loadRouter() (*router, error) {
	loadRouterOnce.Do(func() { sharedRouter, routerErr = newRouter(discoveryGz) })
	return sharedRouter, routerErr
}

func newRouter(gz []byte) (*router, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("read embedded discovery document: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read embedded discovery document: %w", err)
	}
	var doc discoveryDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode embedded discovery document: %w", err)
	}
	rt := &router{doc: &doc, byShape: map[string][]*apiMethod{}, byID: map[string]*apiMethod{}}
	for resName, res := range doc.Resources {
		for verb, dm := range res.Methods {
			m := &apiMethod{ID: dm.ID, Resource: resName, Verb: verb, HTTPMethod: dm.HTTPMethod, Params: dm.Parameters}
			if dm.Request != nil {
				m.Request = dm.Request.Ref
			}
			if dm.Response != nil {
				m.Response = dm.Response.Ref
			}
			for _, seg := range strings.Split(dm.Path, "/") {
				if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
					m.segments = append(m.segments, pathSegment{param: strings.Trim(seg, "{}+")})
				} else {
					m.segments = append(m.segments, pathSegment{literal: seg})
					m.literals++
				}
			}
			key := fmt.Sprintf("%s/%d", m.HTTPMethod, len(m.segments))
			rt.byShape[key] = append(rt.byShape[key], m)
			rt.byID[m.ID] = m
		}
	}
	for _, ms := range rt.byShape {
		sort.Slice(ms, func(i, j int) bool {
			if ms[i].literals != ms[j].literals {
				return ms[i].literals > ms[j].literals
			}
			return ms[i].ID < ms[j].ID
		})
	}
	return rt, nil
}

// match finds the method for an HTTP verb and a path relative to /compute/v1/,
// and returns its path parameters, unescaped.
func (rt *router) match(httpMethod, path string) (*apiMethod, map[string]string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for _, m := range rt.byShape[fmt.Sprintf("%s/%d", httpMethod, len(parts))] {
		params, ok := m.bind(parts)
		if ok {
			return m, params
		}
	}
	return nil, nil
}

func (m *apiMethod) bind(parts []string) (map[string]string, bool) {
	for i, seg := range m.segments {
		if seg.literal != "" && seg.literal != parts[i] {
			return nil, false
		}
		if seg.param != "" && parts[i] == "" {
			return nil, false
		}
	}
	params := make(map[string]string, len(m.segments)-m.literals)
	for i, seg := range m.segments {
		if seg.param != "" {
			v, err := url.PathUnescape(parts[i])
			if err != nil {
				return nil, false
			}
			params[seg.param] = v
		}
	}
	return params, true
}

// allowsHTTPMethodAt reports whether any method serves the path with another verb,
// so that a wrong verb answers 405 rather than 404.
func (rt *router) knowsPath(path string) bool {
	for _, verb := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m, _ := rt.match(verb, path); m != nil {
			return true
		}
	}
	return false
}

func (rt *router) schema(name string) *schemaProp { return rt.doc.Schemas[name] }

// hasField reports whether a schema has a top-level property.
func (rt *router) hasField(schema, field string) bool {
	s := rt.schema(schema)
	return s != nil && s.Properties[field] != nil
}

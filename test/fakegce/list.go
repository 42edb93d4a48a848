package fakegce

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/filter"
)

// maxPageSize is the API's largest (and default) page.
const maxPageSize = 500

type listParams struct {
	filter *filter.Filter
	max    int
	offset int
	byTime bool
}

func parseListParams(c *call) (*listParams, error) {
	lp := &listParams{max: maxPageSize}
	f, err := filter.Parse(c.query.Get("filter"))
	if err != nil {
		return nil, invalid("Invalid list filter expression: %v", err)
	}
	lp.filter = f
	if v := c.query.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, invalidValue("maxResults", v, "Must be a whole number from 0 to 500.")
		}
		if n > 0 && n < maxPageSize {
			lp.max = n
		}
	}
	switch ob := strings.TrimSpace(c.query.Get("orderBy")); ob {
	case "", "name":
	case "creationTimestamp desc":
		lp.byTime = true
	default:
		return nil, invalidValue("orderBy", ob, "Sorting is supported by name or by 'creationTimestamp desc' only.")
	}
	if tok := c.query.Get("pageToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "o:") || n < 0 {
			return nil, invalidValue("pageToken", tok, "The page token is not one this API issued.")
		}
		lp.offset = n
	}
	return lp, nil
}

func pageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

type listed struct {
	scope string // "regions/us-central1" for aggregated lists
	e     *entry
}

// selectEntries filters and orders the entries of the given collections and
// returns one page. Callers hold the store's read lock.
func (s *Server) selectEntries(colls []string, scopes []string, lp *listParams) (page []listed, next string) {
	var all []listed
	for i, coll := range colls {
		for _, n := range s.st.sortedNames(coll) {
			e := s.st.colls[coll][n]
			if lp.filter.Match(e.obj) {
				all = append(all, listed{scope: scopes[i], e: e})
			}
		}
	}
	if lp.byTime {
		sort.SliceStable(all, func(i, j int) bool {
			return str(all[i].e.obj, "creationTimestamp") > str(all[j].e.obj, "creationTimestamp")
		})
	}
	if lp.offset >= len(all) {
		return nil, ""
	}
	end := min(lp.offset+lp.max, len(all))
	if end < len(all) {
		next = pageToken(end)
	}
	return all[lp.offset:end], next
}

func (s *Server) listCollections(c *call, colls []string, render func(*entry) []byte) (any, error) {
	lp, err := parseListParams(c)
	if err != nil {
		return nil, err
	}
	s.st.mu.RLock()
	page, next := s.selectEntries(colls, make([]string, len(colls)), lp)
	s.st.mu.RUnlock()
	var buf bytes.Buffer
	buf.WriteString(`{"kind":`)
	writeString(&buf, "compute#"+lowerFirst(c.m.Response))
	buf.WriteString(`,"id":`)
	writeString(&buf, c.coll)
	if len(page) > 0 {
		buf.WriteString(`,"items":[`)
		for i, l := range page {
			if i > 0 {
				buf.WriteByte(',')
			}
			if render != nil {
				buf.Write(render(l.e))
			} else {
				buf.Write(l.e.raw)
			}
		}
		buf.WriteByte(']')
	}
	if next != "" {
		buf.WriteString(`,"nextPageToken":`)
		writeString(&buf, next)
	}
	buf.WriteString(`,"selfLink":`)
	writeString(&buf, linkBase+c.coll)
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}

func genericList(c *call) (any, error) { return c.s.listCollections(c, []string{c.coll}, nil) }

// genericAggregatedList answers projects/p/aggregated/COLL: the resources of
// every scope, keyed by scope, with a NO_RESULTS_ON_PAGE warning for a scope
// that has none on the page.
func genericAggregatedList(c *call) (any, error) {
	lp, err := parseListParams(c)
	if err != nil {
		return nil, err
	}
	collection := aggregatedCollection(c.m)
	scopes := c.s.cat.scopesOf(c.s.rt, collection)
	colls := make([]string, len(scopes))
	for i, sc := range scopes {
		colls[i] = "projects/" + c.project + "/" + sc + "/" + collection
	}
	var render func(*entry) []byte
	if collection == "operations" {
		render = func(e *entry) []byte { return c.s.renderOp(e.obj) }
	}
	c.s.st.mu.RLock()
	page, next := c.s.selectEntries(colls, scopes, lp)
	c.s.st.mu.RUnlock()
	byScope := map[string][]json.RawMessage{}
	for _, l := range page {
		raw := l.e.raw
		if render != nil {
			raw = render(l.e)
		}
		byScope[l.scope] = append(byScope[l.scope], raw)
	}
	items := make(map[string]any, len(scopes))
	for _, sc := range scopes {
		if rs := byScope[sc]; len(rs) > 0 {
			items[sc] = map[string]any{collection: rs}
			continue
		}
		items[sc] = map[string]any{"warning": map[string]any{
			"code":    "NO_RESULTS_ON_PAGE",
			"message": "There are no results for scope '" + sc + "' on this page.",
			"data":    []any{map[string]any{"key": "scope", "value": sc}},
		}}
	}
	out := map[string]any{
		"kind":     "compute#" + lowerFirst(c.m.Response),
		"id":       "projects/" + c.project + "/aggregated/" + collection,
		"items":    items,
		"selfLink": linkBase + "projects/" + c.project + "/aggregated/" + collection,
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	return out, nil
}

// aggregatedCollection is the URL collection of an aggregatedList method
// (projects/{project}/aggregated/COLL).
func aggregatedCollection(m *apiMethod) string {
	return m.segments[len(m.segments)-1].literal
}

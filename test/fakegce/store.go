package fakegce

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// entry is one stored resource. obj is never modified after it is stored:
// every change stores a new map, so readers may use an entry without a lock.
// raw is the JSON the API answers for it, rendered once at write time.
type entry struct {
	obj map[string]any
	raw []byte
}

// internalPrefix marks keys of a stored object that the API never shows
// (for example the members of an instance group, which have no field of their own).
const internalPrefix = "__"

func newEntry(obj map[string]any) *entry {
	visible := obj
	for k := range obj {
		if strings.HasPrefix(k, internalPrefix) {
			visible = make(map[string]any, len(obj))
			for k, v := range obj {
				if !strings.HasPrefix(k, internalPrefix) {
					visible[k] = v
				}
			}
			break
		}
	}
	raw, err := json.Marshal(visible)
	if err != nil {
		// Objects come from decoded JSON or from this package; both marshal.
		panic("fakegce: unmarshalable resource: " + err.Error())
	}
	return &entry{obj: obj, raw: raw}
}

// store holds every resource by collection path ("projects/p/global/firewalls")
// and name. All writes go through a tx under mu, and are logged to the state
// file (when there is one) before they become visible.
type store struct {
	mu    sync.RWMutex
	colls map[string]map[string]*entry
	// requests indexes the operations that carry a requestId, by project and
	// requestId, so that a retried request finds its operation without a scan
	// of every operation (clients such as the CCM send a requestId on each call).
	requests map[string]string
	seq      uint64 // ids handed out so far
	seed     uint64
	log      *stateLog
	gen      generation
}

func newStore(seed uint64) *store {
	return &store{colls: map[string]map[string]*entry{}, requests: map[string]string{}, seed: seed, gen: newGeneration()}
}

// clear forgets every resource (admin reset). Callers hold mu.
func (s *store) clear() {
	s.colls = map[string]map[string]*entry{}
	s.requests = map[string]string{}
	s.gen.bump()
}

// requestKey is the requests index key of a requestId in the project of coll.
func requestKey(coll, requestID string) string {
	project, _, _ := strings.Cut(strings.TrimPrefix(coll, "projects/"), "/")
	return project + "\x00" + requestID
}

// operationFor returns the key (coll/name) of the operation a requestId
// created in a project, or "". Callers hold mu.
func (s *store) operationFor(project, requestID string) string {
	return s.requests[project+"\x00"+requestID]
}

// reindex keeps the requests index in step with a write of coll/name.
func (s *store) reindex(coll, name string, old, obj map[string]any) {
	if rid := str(old, "__requestId"); rid != "" {
		delete(s.requests, requestKey(coll, rid))
	}
	if rid := str(obj, "__requestId"); rid != "" {
		s.requests[requestKey(coll, rid)] = coll + "/" + name
	}
}

func (s *store) get(coll, name string) *entry { return s.colls[coll][name] }

// sortedNames returns a collection's names in order. Callers hold mu.
func (s *store) sortedNames(coll string) []string {
	names := make([]string, 0, len(s.colls[coll]))
	for n := range s.colls[coll] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// collectionsOf lists the collection paths in a project that hold one resource
// type across scopes (for aggregated lists and reference checks). Callers hold mu.
func (s *store) collectionsOf(project, resource string) []string {
	var out []string
	prefix := "projects/" + project + "/"
	suffix := "/" + resource
	for c := range s.colls {
		if strings.HasPrefix(c, prefix) && strings.HasSuffix(c, suffix) && strings.Count(c, "/") <= 4 {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// Ids are 19-digit numbers from minID to math.MaxInt64. The discovery
// document types them uint64, but real ids fit in a signed 64-bit integer,
// and clients rely on it: the Google terraform provider reads a
// subnetwork's id as an int64 (subnetwork_id) and fails on a larger one.
const minID = 1_000_000_000_000_000_000

// nextID returns a new resource id: a mix of the seed and a counter, so ids
// look like the API's (large, unordered) yet repeat run to run for a seed.
func (s *store) nextID() string {
	s.seq++
	z := s.seed + s.seq*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	z = z%(math.MaxInt64-minID+1) + minID
	return strconv.FormatUint(z, 10)
}

type write struct {
	coll, name string
	obj        map[string]any // nil deletes
}

// tx is a set of writes seen by its own reads and applied at once by commit.
// A tx is used under the store's write lock.
type tx struct {
	s      *store
	writes map[string]*write
	order  []string
}

func (s *store) begin() *tx { return &tx{s: s, writes: map[string]*write{}} }

func (t *tx) get(coll, name string) map[string]any {
	if w, ok := t.writes[coll+"/"+name]; ok {
		return w.obj
	}
	if e := t.s.get(coll, name); e != nil {
		return e.obj
	}
	return nil
}

func (t *tx) put(coll, name string, obj map[string]any) {
	key := coll + "/" + name
	if _, ok := t.writes[key]; !ok {
		t.order = append(t.order, key)
	}
	t.writes[key] = &write{coll: coll, name: name, obj: obj}
}

func (t *tx) del(coll, name string) { t.put(coll, name, nil) }

// list returns a collection's objects, with this tx's writes, ordered by name.
func (t *tx) list(coll string) []map[string]any {
	seen := map[string]bool{}
	var names []string
	for n := range t.s.colls[coll] {
		names = append(names, n)
		seen[n] = true
	}
	for _, key := range t.order {
		w := t.writes[key]
		if w.coll == coll && !seen[w.name] {
			names = append(names, w.name)
			seen[w.name] = true
		}
	}
	sort.Strings(names)
	out := make([]map[string]any, 0, len(names))
	for _, n := range names {
		if o := t.get(coll, n); o != nil {
			out = append(out, o)
		}
	}
	return out
}

// listAll returns the objects of one resource type in every scope of a project.
func (t *tx) listAll(project, resource string) []map[string]any {
	colls := map[string]bool{}
	for _, c := range t.s.collectionsOf(project, resource) {
		colls[c] = true
	}
	for _, key := range t.order {
		w := t.writes[key]
		if strings.HasPrefix(w.coll, "projects/"+project+"/") && strings.HasSuffix(w.coll, "/"+resource) {
			colls[w.coll] = true
		}
	}
	var sorted []string
	for c := range colls {
		sorted = append(sorted, c)
	}
	sort.Strings(sorted)
	var out []map[string]any
	for _, c := range sorted {
		out = append(out, t.list(c)...)
	}
	return out
}

func (t *tx) newID() string { return t.s.nextID() }

// commit logs the writes to the state file, then makes them visible.
func (t *tx) commit() error {
	if len(t.order) == 0 {
		return nil
	}
	ws := make([]*write, 0, len(t.order))
	for _, key := range t.order {
		ws = append(ws, t.writes[key])
	}
	if t.s.log != nil {
		if err := t.s.log.append(t.s.seq, ws); err != nil {
			return err
		}
	}
	t.s.apply(ws)
	return nil
}

// apply makes writes visible: every committed change, and every change
// replayed from the state file, passes here, so here the generation moves.
func (s *store) apply(ws []*write) {
	if len(ws) > 0 {
		defer s.gen.bump()
	}
	for _, w := range ws {
		var old map[string]any
		if e := s.colls[w.coll][w.name]; e != nil {
			old = e.obj
		}
		s.reindex(w.coll, w.name, old, w.obj)
		if w.obj == nil {
			delete(s.colls[w.coll], w.name)
			if len(s.colls[w.coll]) == 0 {
				delete(s.colls, w.coll)
			}
			continue
		}
		c := s.colls[w.coll]
		if c == nil {
			c = map[string]*entry{}
			s.colls[w.coll] = c
		}
		c[w.name] = newEntry(w.obj)
	}
}

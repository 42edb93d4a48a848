package fakegce_test

import (
	"fmt"
	"regexp"
	"strings"
)

// The recorded transcripts replace names with typed placeholders by a plain
// global string replace (FORMAT.md), so two instances of one test both read
// ${instanceID}, and a network named "default" turns every "default" in the
// log into ${networkID}. placeholderNames gives each placeholder a concrete
// name per generation: a recorded 404 GET followed by an insert starts a new
// generation, a path names the newest live one, and the references in a body
// name the live ones oldest first, each at most once per body.

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z]+)\}`)

// replaySuffix stands for ${uniqueId}, the per-test random suffix.
const replaySuffix = "r3pl4y"

type generationState int

const (
	fresh generationState = iota // named by a 404 GET, not inserted yet
	live
	dead
)

type generation struct {
	name  string
	state generationState
}

type placeholderNames struct {
	fixed map[string]string
	gens  map[string][]*generation
	// pending is the name a recorded 404 GET looked up in a collection: the
	// insert that follows creates it (the name may be a literal, as in
	// "computetargetvpngateway-${uniqueId}", while the body says ${targetVpnGatewayID}).
	pending map[string]string
	// lastOp is the name of the operation the fake answered for the latest mutation.
	lastOp string
}

func newPlaceholderNames(project string) *placeholderNames {
	return &placeholderNames{
		fixed:   map[string]string{"projectId": project, "uniqueId": replaySuffix, "projectNumber": "123456789012"},
		gens:    map[string][]*generation{},
		pending: map[string]string{},
	}
}

// preexisting declares a resource the recording's project already had (the
// default network): the placeholder always names it.
func (n *placeholderNames) preexisting(ph, name string) { n.fixed[ph] = name }

// fillFixed replaces the placeholders that name one thing for the whole
// recording (project, suffix, a preexisting resource), leaving the others.
func (n *placeholderNames) fillFixed(s string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		ph := m[2 : len(m)-1]
		if v, ok := n.fixed[ph]; ok {
			return v
		}
		return m
	})
}

func (n *placeholderNames) newGeneration(ph string) *generation {
	base := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(ph, "ID"), "Name"))
	g := &generation{name: fmt.Sprintf("%s-%s-%d", base, replaySuffix, len(n.gens[ph])+1)}
	n.gens[ph] = append(n.gens[ph], g)
	return g
}

// newest returns the newest live generation, else a fresh one (made if needed).
func (n *placeholderNames) newest(ph string) *generation {
	gs := n.gens[ph]
	for i := len(gs) - 1; i >= 0; i-- {
		if gs[i].state == live {
			return gs[i]
		}
	}
	if len(gs) > 0 && gs[len(gs)-1].state == fresh {
		return gs[len(gs)-1]
	}
	return n.newGeneration(ph)
}

// lookupMissing names the resource a recorded 404 GET asks for: a fresh
// generation, unless the newest one is still fresh.
func (n *placeholderNames) lookupMissing(ph string) *generation {
	gs := n.gens[ph]
	if len(gs) > 0 && gs[len(gs)-1].state == fresh {
		return gs[len(gs)-1]
	}
	return n.newGeneration(ph)
}

// inserted makes the resource inserted into coll under placeholder ph live.
func (n *placeholderNames) inserted(ph, coll string) string {
	name, ok := n.pending[coll]
	delete(n.pending, coll)
	if !ok {
		name = n.lookupMissing(ph).name
	}
	for _, g := range n.gens[ph] {
		if g.name == name {
			g.state = live
			return name
		}
	}
	n.gens[ph] = append(n.gens[ph], &generation{name: name, state: live})
	return name
}

func (n *placeholderNames) deleted(name string) {
	for _, gs := range n.gens {
		for _, g := range gs {
			if g.name == name {
				g.state = dead
			}
		}
	}
}

// references resolves the placeholders in the references of one request
// body: live generations oldest first (newest first when newestFirst), each
// used once, never self; the newest live one when they run out.
type references struct {
	n           *placeholderNames
	self        string
	newestFirst bool
	used        map[string]bool
}

func (r *references) resolve(ph string) string {
	gs := append([]*generation(nil), r.n.gens[ph]...)
	if r.newestFirst {
		for i, j := 0, len(gs)-1; i < j; i, j = i+1, j-1 {
			gs[i], gs[j] = gs[j], gs[i]
		}
	}
	for _, g := range gs {
		if g.state == live && g.name != r.self && !r.used[g.name] {
			r.used[g.name] = true
			return g.name
		}
	}
	return r.n.newest(ph).name
}

// placeholderOnly returns the placeholder s consists of, if it is one.
func placeholderOnly(s string) (string, bool) {
	m := placeholderRE.FindStringSubmatch(s)
	if m == nil || m[0] != s {
		return "", false
	}
	return m[1], true
}

func (r *references) fill(s string) string {
	s = r.n.fillFixed(s)
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		return r.resolve(m[2 : len(m)-1])
	})
}

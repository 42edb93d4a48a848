package fakegce

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// generationWaitLimit is how long GET /admin/v1/generation waits for a change
// before it answers with the generation as it is.
var generationWaitLimit = 30 * time.Second

// generation counts the store's committed changes, so that a reader (the
// packet lab's data plane) can block until the state changes instead of
// polling it. Its fields are guarded by the store's mutex.
type generation struct {
	n       uint64
	changed chan struct{} // closed and replaced by every bump
}

func newGeneration() generation { return generation{changed: make(chan struct{})} }

// bump counts one change and wakes the waiters. Callers hold the store's write lock.
func (g *generation) bump() {
	g.n++
	close(g.changed)
	g.changed = make(chan struct{})
}

// Generation is the number of changes committed to the fake's state so far
// (every insert, update, delete and completed operation, and a reset).
func (s *Server) Generation() uint64 {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return s.st.gen.n
}

// WaitGeneration blocks until the generation exceeds after, ctx ends or limit
// passes, and returns the generation then.
func (s *Server) WaitGeneration(ctx context.Context, after uint64, limit time.Duration) uint64 {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		s.st.mu.RLock()
		n, changed := s.st.gen.n, s.st.gen.changed
		s.st.mu.RUnlock()
		if n > after {
			return n
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return n
		case <-timer.C:
			return n
		}
	}
}

// serveGeneration answers GET /admin/v1/generation?after=N with
// {"generation": M} as soon as M > N, or after generationWaitLimit with the
// current M (a long poll: a watcher asks again with after=M).
func (s *Server) serveGeneration(w http.ResponseWriter, r *http.Request) {
	var after uint64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, invalidValue("after", v, "Must be a generation number."))
			return
		}
		after = n
	}
	// The long poll holds no lock while it waits, and operations that complete
	// on a timer bump the generation themselves.
	s.ops.advance()
	writeJSON(w, map[string]any{"generation": s.WaitGeneration(r.Context(), after, generationWaitLimit)})
}

package changeset

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
)

// journal records the order calls ran in.
type journal struct {
	mu  sync.Mutex
	ran []string
}

func (j *journal) op(step int, verb, name string, err error, after ...string) Op {
	return Op{Verb: verb, Kind: "thing", Name: name, Step: step, After: after, Call: func(context.Context) error {
		j.mu.Lock()
		j.ran = append(j.ran, verb+" "+name)
		j.mu.Unlock()
		return err
	}}
}

var (
	errGone   = &googleapi.Error{Code: http.StatusNotFound}
	errExists = &googleapi.Error{Code: http.StatusConflict}
	errInUse  = &googleapi.Error{Code: http.StatusBadRequest, Errors: []googleapi.ErrorItem{{Reason: "resourceInUseByAnotherResource"}}}
	errBroken = &googleapi.Error{Code: http.StatusServiceUnavailable}
)

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		keepGoing bool
		ops       func(j *journal) []Op
		wantRan   []string
		wantErrs  []string
	}{
		{name: "steps run in order, each after the one before",
			ops: func(j *journal) []Op {
				return []Op{j.op(2, "insert", "c", nil), j.op(0, "insert", "a", nil), j.op(1, "delete", "b", nil)}
			},
			wantRan: []string{"insert a", "delete b", "insert c"}, wantErrs: []string{"", "", ""}},
		{name: "a delete of what is gone and an insert of what exists are success",
			ops: func(j *journal) []Op {
				return []Op{j.op(0, Delete, "a", errGone), j.op(0, Insert, "b", errExists)}
			},
			wantRan: []string{"delete a", "insert b"}, wantErrs: []string{"", ""}},
		{name: "a strict op fails on a 409",
			ops: func(j *journal) []Op {
				op := j.op(0, Insert, "a", errExists)
				op.Strict = true
				return []Op{op}
			},
			wantRan: []string{"insert a"}, wantErrs: []string{"insert thing a: googleapi: got HTTP response code 409 with body: "}},
		{name: "an in-use delete is success only for a shared resource",
			ops: func(j *journal) []Op {
				shared := j.op(0, Delete, "shared", errInUse)
				shared.Shared = true
				return []Op{shared, j.op(1, Delete, "own", errInUse)}
			},
			wantRan:  []string{"delete shared", "delete own"},
			wantErrs: []string{"", "delete thing own: googleapi: Error 400: , resourceInUseByAnotherResource"}},
		{name: "a failed step is the last to run",
			ops: func(j *journal) []Op {
				return []Op{j.op(0, "patch", "a", errBroken), j.op(1, Insert, "b", nil)}
			},
			wantRan: []string{"patch a"}, wantErrs: []string{"patch thing a: googleapi: got HTTP response code 503 with body: ", ""}},
		{name: "keeping going, an op whose dependency failed is skipped and the others run",
			keepGoing: true,
			ops: func(j *journal) []Op {
				return []Op{j.op(0, Delete, "a", errBroken), j.op(0, Delete, "b", nil),
					j.op(1, Insert, "a", nil, "delete thing a"), j.op(1, Insert, "b", nil, "delete thing b")}
			},
			wantRan:  []string{"delete a", "delete b", "insert b"},
			wantErrs: []string{"delete thing a: googleapi: got HTTP response code 503 with body: ", "", "", ""}},
		{name: "an op whose dependency was skipped is skipped too",
			keepGoing: true,
			ops: func(j *journal) []Op {
				return []Op{j.op(0, Delete, "rule", errBroken), j.op(1, Delete, "pool", nil, "delete thing rule"),
					j.op(2, Delete, "check", nil, "delete thing pool")}
			},
			wantRan:  []string{"delete rule"},
			wantErrs: []string{"delete thing rule: googleapi: got HTTP response code 503 with body: ", "", ""}},
		{name: "an op waits for a dependency in its own step",
			ops: func(j *journal) []Op {
				return []Op{j.op(0, "set target of", "rule", nil, "insert thing pool"), j.op(0, Insert, "pool", nil)}
			},
			wantRan: []string{"insert pool", "set target of rule"}, wantErrs: []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &journal{}
			p := Plan{Ops: tt.ops(j), Parallelism: 4, KeepGoing: tt.keepGoing}
			var got []string
			for _, err := range p.Run(context.Background()) {
				msg := ""
				if err != nil {
					msg = err.Error()
				}
				got = append(got, msg)
			}
			if d := cmp.Diff(tt.wantErrs, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
			// Ops of one step run in any order: compare each step's set.
			if !sameSteps(p.Ops, tt.wantRan, j.ran) {
				t.Errorf("ran %v, want %v", j.ran, tt.wantRan)
			}
		})
	}
}

// sameSteps: got holds the wanted calls, and the calls of a later step (or
// a dependant) never come before one they follow.
func sameSteps(ops []Op, want, got []string) bool {
	if !slices.Equal(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))) {
		return false
	}
	pos := map[string]int{}
	for i, g := range got {
		pos[g] = i
	}
	for _, a := range ops {
		for _, b := range ops {
			ka, kb := a.Verb+" "+a.Name, b.Verb+" "+b.Name
			pa, okA := pos[ka]
			pb, okB := pos[kb]
			if okA && okB && a.Step < b.Step && pa > pb {
				return false
			}
			if okA && okB && slices.Contains(b.After, a.Key()) && pa > pb {
				return false
			}
		}
	}
	return true
}

func TestRunBoundsTheCallsInFlight(t *testing.T) {
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	var p Plan
	p.Parallelism = 3
	for range 10 {
		p.Add(Op{Verb: Insert, Kind: "thing", Name: "x", Call: func(context.Context) error {
			n := inFlight.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			<-release
			inFlight.Add(-1)
			return nil
		}})
	}
	done := make(chan error)
	go func() { done <- p.Err(context.Background()) }()
	// Once three are in flight, a fourth would start only if the bound
	// let it: the calls are all let go together.
	for inFlight.Load() < 3 {
		runtime.Gosched()
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := most.Load(); got != 3 {
		t.Errorf("at most %d calls in flight, want 3", got)
	}
}

func TestErrJoinsTheFailures(t *testing.T) {
	p := Plan{Parallelism: 2, KeepGoing: true, Ops: []Op{
		{Verb: "patch", Kind: "backend service", Name: "a", Call: func(context.Context) error { return errBroken }},
		{Verb: "patch", Kind: "backend service", Name: "b", Call: func(context.Context) error { return nil }},
	}}
	err := p.Err(context.Background())
	if !errors.Is(err, errBroken) {
		t.Errorf("Err = %v, want it to wrap the call's error", err)
	}
}

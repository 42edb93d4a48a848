// Package changeset runs a plan of cloud changes: typed operations (a verb,
// a resource kind, a name and the call that makes the change) in dependency
// order, a bounded number at a time.
//
// What every caller would otherwise repeat is here, once: a delete of what
// is already gone succeeds, an insert that finds its resource made (a retry
// whose first answer was lost) succeeds, and every error names the change
// that failed, "VERB KIND NAME: err". The package decides nothing about
// what to change: it never adds, drops or reorders an operation beyond what
// the plan's steps and dependencies say.
package changeset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
)

// The verbs the runner knows the tolerance of; any other verb ("patch",
// "set target of", ...) succeeds only when its call does.
const (
	// Insert: a 409 (the resource exists) is success, unless the op is Strict.
	Insert = "insert"
	// Delete: a 404 (the resource is gone) is success, unless Strict.
	Delete = "delete"
)

// Op is one change.
type Op struct {
	Verb string // insert, delete, patch, update, ...
	Kind string // the resource kind as a reader says it: "forwarding rule"
	Name string
	// Step orders the plan: an op runs once every op of the earlier steps
	// has finished.
	Step int
	// After are the ops (by Key) this one needs: it is skipped, with no
	// error of its own, when one of them failed.
	After []string
	// Strict: no answer but success counts as success (the call judges a
	// 409 or a 404 itself).
	Strict bool
	// Shared: the resource may be used by others; a delete refused because
	// it is in use (400 resourceInUseByAnotherResource) is success, as
	// another load balancer took it up since it was observed unused.
	Shared bool
	Call   func(ctx context.Context) error
}

// Key names the op for After: its verb, kind and name.
func (o *Op) Key() string { return o.Verb + " " + o.Kind + " " + o.Name }

// tolerated reports whether err counts as success for the op.
func (o *Op) tolerated(err error) bool {
	switch {
	case o.Strict:
		return false
	case o.Verb == Delete:
		return computeclient.IsNotFound(err) || (o.Shared && computeclient.IsInUse(err))
	case o.Verb == Insert:
		return computeclient.IsConflict(err)
	}
	return false
}

// Plan is the changes of one reconcile.
type Plan struct {
	Ops []Op
	// Parallelism bounds the calls in flight (at least one).
	Parallelism int
	// KeepGoing: a step runs even when an op of an earlier step failed
	// (the steps order the changes but do not depend on each other).
	// Without it, the first step with a failure is the last to run.
	KeepGoing bool
}

// Add appends ops to the plan.
func (p *Plan) Add(ops ...Op) { p.Ops = append(p.Ops, ops...) }

// Empty reports whether the plan makes no change.
func (p *Plan) Empty() bool { return len(p.Ops) == 0 }

// Run carries out the plan and returns one error per op, in the plan's
// order (nil for success and for an op skipped because a dependency failed
// or was itself skipped).
func (p *Plan) Run(ctx context.Context) []error {
	errs := make([]error, len(p.Ops))
	failed := map[string]bool{}
	steps := p.steps()
	for i, step := range steps {
		if i > 0 && !p.KeepGoing && len(failed) > 0 {
			break
		}
		p.runStep(ctx, step, failed, errs)
	}
	return errs
}

// Err runs the plan and joins its errors.
func (p *Plan) Err(ctx context.Context) error { return errors.Join(p.Run(ctx)...) }

// steps groups the ops' indexes by step, in step order.
func (p *Plan) steps() [][]int {
	byStep := map[int][]int{}
	var order []int
	for i, op := range p.Ops {
		if _, ok := byStep[op.Step]; !ok {
			order = append(order, op.Step)
		}
		byStep[op.Step] = append(byStep[op.Step], i)
	}
	slices.Sort(order)
	out := make([][]int, 0, len(order))
	for _, s := range order {
		out = append(out, byStep[s])
	}
	return out
}

// runStep runs the ops of one step; an op whose dependency failed (in an
// earlier step, or in this one before it) is skipped. Ops of a step with
// dependencies among them wait for those.
func (p *Plan) runStep(ctx context.Context, idx []int, failed map[string]bool, errs []error) {
	var mu sync.Mutex
	// done holds, per key, the ops of this step not finished yet (several
	// ops may share a key: the batches of one change).
	done := map[string]*sync.WaitGroup{}
	for _, i := range idx {
		k := p.Ops[i].Key()
		if done[k] == nil {
			done[k] = &sync.WaitGroup{}
		}
		done[k].Add(1)
	}
	sem := make(chan struct{}, max(1, p.Parallelism))
	var wg sync.WaitGroup
	for _, i := range idx {
		op := &p.Ops[i]
		wg.Go(func() {
			defer done[op.Key()].Done()
			for _, dep := range op.After {
				if wg, ok := done[dep]; ok {
					wg.Wait()
				}
			}
			mu.Lock()
			skip := anyFailed(failed, op.After)
			if skip {
				// Not made, so not there for the ops that follow this one
				// either: they are skipped in turn.
				failed[op.Key()] = true
			}
			mu.Unlock()
			if skip {
				return
			}
			sem <- struct{}{}
			err := op.Call(ctx)
			<-sem
			if err != nil && !op.tolerated(err) {
				mu.Lock()
				errs[i] = fmt.Errorf("%s: %w", op.Key(), err)
				failed[op.Key()] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func anyFailed(failed map[string]bool, keys []string) bool {
	for _, k := range keys {
		if failed[k] {
			return true
		}
	}
	return false
}

// Package nodeset orders the node sets the service controller publishes,
// so that the code applying them to a resource several Services share (the
// cluster's instance groups) can refuse an older set once a newer one was
// applied. The version travels in the context of the provider call, the
// only way into cloudprovider.LoadBalancer besides the nodes themselves.
//
// It never reads or writes Kubernetes or the cloud.
package nodeset

import (
	"context"
	"sync"
	"sync/atomic"
)

// Version orders the node sets published in one process: a later set has a
// higher version. Zero is no version (a caller that publishes none).
type Version uint64

// last is per process, not per controller: a controller started again in
// the same process (a new leader term) continues the sequence, so what a
// shared resource remembers stays comparable.
var last atomic.Uint64

// Next returns a version higher than every one returned before.
func Next() Version { return Version(last.Add(1)) }

type versionKey struct{}

// WithVersion returns ctx carrying the version of the node set a provider
// call is given.
func WithVersion(ctx context.Context, v Version) context.Context {
	return context.WithValue(ctx, versionKey{}, v)
}

// VersionOf is the version ctx carries, or zero.
func VersionOf(ctx context.Context) Version {
	v, _ := ctx.Value(versionKey{}).(Version)
	return v
}

// Applied remembers, per shared resource, the newest version applied to it.
// The zero value is ready to use.
type Applied struct {
	mu     sync.Mutex
	newest map[any]Version
}

// Admit says whether a change made from the node set of version v may be
// applied to the resource named by key, and records v when it may: not
// when a newer set was admitted there before (the change would undo it).
// The same version again is admitted (a retry), and so is version zero,
// which records nothing. Callers serialise changes to one resource
// themselves; Admit only keeps the record.
func (a *Applied) Admit(key any, v Version) bool {
	if v == 0 {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if v < a.newest[key] {
		return false
	}
	if a.newest == nil {
		a.newest = map[any]Version{}
	}
	a.newest[key] = v
	return true
}

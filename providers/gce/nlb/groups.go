package nlb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/servicecontroller/nodeset"
)

// The per-zone instance groups that every backend-service load balancer of
// the cluster shares. A node change is one addInstances or removeInstances
// per zone, whatever the number of Services; what a Balancer remembers of
// the groups lets the Services reconciled after a node change skip both
// the reads and the writes the first one made.

// groupCacheTTL: a group changed by hand is repaired within it.
const groupCacheTTL = 10 * time.Minute

// sharedGroups is what one Balancer knows of the shared groups.
type sharedGroups struct {
	// cache: per group link, the members this Balancer last saw or made it
	// have, so that a resync reads a group only when its wanted members
	// changed, or every groupCacheTTL.
	cache sync.Map // link -> groupState
	// locks serialise the membership changes of one group: the Services
	// reconciled at once all want the same change, and the first makes it.
	locks sync.Map // link -> *sync.Mutex
	// sets: per group, the newest node set applied to it. The service
	// controller publishes a node set without waiting for the calls in
	// flight, each of which took the set current when it started
	// (nodeset.VersionOf its context): a call that reaches a group after
	// one with a newer set must not undo it.
	sets nodeset.Applied // link -> newest version
	// built: the backend services ensured, with the zones of their
	// backends, as of the last successful ensure. Ensure forgets a
	// Service's entry before it starts, so the entry exists only while the
	// last ensure ended with a backend service in place.
	built sync.Map // base name -> zones joined
}

type groupState struct {
	members string // sorted links, joined
	at      time.Time
}

func membersKey(links []string) string {
	s := slices.Clone(links)
	slices.Sort(s)
	return strings.Join(s, ",")
}

func (g *sharedGroups) inSync(link string, want []string) bool {
	v, ok := g.cache.Load(link)
	if !ok {
		return false
	}
	st := v.(groupState)
	return st.members == membersKey(want) && time.Since(st.at) < groupCacheTTL
}

func (g *sharedGroups) remember(link string, members []string) {
	g.cache.Store(link, groupState{members: membersKey(members), at: time.Now()})
}

func (g *sharedGroups) forget(link string) { g.cache.Delete(link) }

func (g *sharedGroups) lock(link string) func() {
	mu, _ := g.locks.LoadOrStore(link, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock
}

func (g *sharedGroups) rememberBuilt(base string, zones []string) {
	g.built.Store(base, strings.Join(zones, ","))
}

func (g *sharedGroups) forgetBuilt(base string) { g.built.Delete(base) }

// builtWith reports whether the Service's backend service was built, and
// with backends in exactly these zones.
func (g *sharedGroups) builtWith(base string, zones []string) bool {
	v, ok := g.built.Load(base)
	return ok && v.(string) == strings.Join(zones, ",")
}

func (b *Balancer) igLink(zone string) string { return igLinkOf(b.p, zone) }

// syncGroup brings a zone's shared group to the wanted members. Under the
// group's lock, the members are read again and the change recomputed, so
// that the Services reconciled at once make it once. A change that still
// races with another process (memberAlreadyExists, memberNotFound) is
// re-read and retried.
func (b *Balancer) syncGroup(ctx context.Context, zone string, want []string) error {
	link := b.igLink(zone)
	defer b.shared.lock(link)()
	if !b.shared.sets.Admit(link, nodeset.VersionOf(ctx)) {
		// A newer node set was applied here: this one is out of date,
		// and its caller is queued again with the newer one.
		return nil
	}
	// The worker that held the lock before may just have made the group
	// what this one wants: then there is nothing to read or write.
	if b.shared.inSync(link, want) {
		return nil
	}
	var err error
	for range 3 {
		var done bool
		if done, err = b.changeMembers(ctx, zone, want); done || err == nil {
			b.shared.remember(link, want)
			return nil
		}
		b.shared.forget(link)
		if !(computeclient.IsConflict(err) || computeclient.IsNotFound(err)) {
			return err
		}
	}
	return err
}

// changeMembers reads a group's members and makes the change they need;
// done: there was none to make.
func (b *Balancer) changeMembers(ctx context.Context, zone string, want []string) (done bool, err error) {
	name := b.p.Owner.InstanceGroupName(zone)
	have, err := b.api.ListInstanceGroupInstances(ctx, zone, name)
	if err != nil {
		return false, fmt.Errorf("list instance group %s: %w", name, err)
	}
	add, remove := setDiff(want, have)
	if len(add) == 0 && len(remove) == 0 {
		return true, nil
	}
	for _, batch := range batches(add) {
		if e := b.api.AddInstanceGroupInstances(ctx, zone, name, batch); e != nil {
			err = fmt.Errorf("add %d instances to instance group %s: %w", len(batch), name, e)
		}
	}
	for _, batch := range batches(remove) {
		if e := b.api.RemoveInstanceGroupInstances(ctx, zone, name, batch); e != nil {
			err = fmt.Errorf("remove %d instances from instance group %s: %w", len(batch), name, e)
		}
	}
	return false, err
}

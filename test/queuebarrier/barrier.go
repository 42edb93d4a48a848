// Package queuebarrier lets a controller's tests prove that the controller
// has finished with everything the test did, before they assert that
// something did NOT happen (no cloud call, no write, no publication).
// Waiting some time with nothing happening proves nothing: a controller
// that reacts later still passes. Instead, Barrier.Processed waits until
//
//  0. every observed handler has had the informer's initial list: a
//     controller that just started has seen every object there is (an
//     informer lists objects sorted by namespace and name, so a marker may
//     be handled before the objects listed after it);
//  1. the controller's work queues are idle: nothing queued, nothing being
//     synced, nothing waiting for a delay (AddAfter, AddRateLimited) to
//     pass;
//  2. then a marker object of each watched kind is changed, and the
//     controller's own event handler is seen to return for each marker.
//     An informer hands its events to a handler one at a time, in the
//     order the API server sent them, so every earlier event, the test's
//     changes and the echoes of the controller's own writes, has been
//     handled;
//  3. and no queue operation happened at all from 1 to the end of 2: the
//     events handled meanwhile enqueued nothing. Otherwise it starts over.
//
// The queues and the handlers are the controller's real ones, observed
// from outside: the informers passed to the controller's constructor wrap
// the handlers it registers (Services, Nodes, EndpointSlices), and the
// queues it built are wrapped (Track) before the informers start. Which
// objects make good markers (ones the controller's handlers look at and
// enqueue nothing for) is each controller's tests' business.
//
// What it cannot see: work the controller would start outside its queues
// (a ticker, a goroutine of its own), and a delayed add whose item an
// earlier add brought to a worker at or after its due time, in the moment
// before the delayed add lands (the wait is then taken as over).
//
// Only tests import this package.
package queuebarrier

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Annotation is the annotation whose value names a marker round.
const Annotation = "test.cloud-provider-vpc/barrier"

// Barrier observes one controller at a time; Observe moves it to the next
// (after a restart). Marker rounds keep counting across controllers: a new
// controller's informers list the markers with the last round written.
type Barrier struct {
	round int
	seen  *handled

	mu     sync.Mutex
	queues *tracker
	regs   []cache.ResourceEventHandlerRegistration
}

// New returns a barrier ready to observe a first controller.
func New() *Barrier {
	b := &Barrier{seen: &handled{rounds: map[string]int{}}}
	b.Observe()
	return b
}

// Observe forgets the queues and handlers of the previous controller: the
// next Track and informer wrappers are a new controller's.
func (b *Barrier) Observe() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queues = &tracker{waiting: map[any]delayedAdd{}}
	b.regs = nil
}

func (b *Barrier) current() (*tracker, []cache.ResourceEventHandlerRegistration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queues, append([]cache.ResourceEventHandlerRegistration(nil), b.regs...)
}

// Processed returns once the controller has handled every change made so
// far and finished the work they caused (see the package comment). touch
// writes round into the Annotation of a marker object of each kind it
// returns ("Service", "Node", "EndpointSlice"). With butRetries, the
// delayed retries of failed syncs are not work left: for a failure that
// lasts, a controller retries with a backoff for as long as it lasts.
func (b *Barrier) Processed(t testing.TB, butRetries bool, touch func(round int) (kinds []string)) {
	t.Helper()
	queues, regs := b.current()
	poll(t, "the controller's handlers have had the informers' initial lists", func() (bool, string) {
		for i, r := range regs {
			if !r.HasSynced() {
				return false, fmt.Sprintf("handler %d of %d not synced", i+1, len(regs))
			}
		}
		return true, ""
	})
	for {
		var ops uint64
		poll(t, "the controller's queues are idle", func() (bool, string) {
			ok, n, state := queues.idle(butRetries)
			ops = n
			return ok, state
		})
		b.round++
		for _, kind := range touch(b.round) {
			poll(t, fmt.Sprintf("the controller handles the %s marker %d", kind, b.round), func() (bool, string) {
				got := b.seen.round(kind)
				return got >= b.round, fmt.Sprint(got)
			})
		}
		if ok, n, _ := queues.idle(butRetries); ok && n == ops {
			return
		}
	}
}

// poll waits (bounded) until check passes, and fails the test with its
// last answer otherwise.
func poll(t testing.TB, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, got := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; last: %s", what, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// handled records, by kind, the last marker round whose event the
// controller's handler returned from.
type handled struct {
	mu     sync.Mutex
	rounds map[string]int
}

func (h *handled) round(kind string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rounds[kind]
}

func (h *handled) note(kind string, obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	if n, err := strconv.Atoi(m.GetAnnotations()[Annotation]); err == nil {
		h.mu.Lock()
		h.rounds[kind] = max(h.rounds[kind], n)
		h.mu.Unlock()
	}
}

// observedHandler calls the controller's handler, then notes the event.
type observedHandler struct {
	cache.ResourceEventHandler
	kind string
	seen *handled
}

func (o observedHandler) OnAdd(obj any, initial bool) {
	o.ResourceEventHandler.OnAdd(obj, initial)
	o.seen.note(o.kind, obj)
}

func (o observedHandler) OnUpdate(old, obj any) {
	o.ResourceEventHandler.OnUpdate(old, obj)
	o.seen.note(o.kind, obj)
}

func (o observedHandler) OnDelete(obj any) {
	o.ResourceEventHandler.OnDelete(obj)
	o.seen.note(o.kind, obj)
}

// observedInformer is an informer whose handlers are observed, whichever
// way they are added.
type observedInformer struct {
	cache.SharedIndexInformer
	kind string
	b    *Barrier
}

func (i observedInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	return i.AddEventHandlerWithOptions(h, cache.HandlerOptions{})
}

func (i observedInformer) AddEventHandlerWithResyncPeriod(h cache.ResourceEventHandler, resync time.Duration) (cache.ResourceEventHandlerRegistration, error) {
	return i.AddEventHandlerWithOptions(h, cache.HandlerOptions{ResyncPeriod: &resync})
}

func (i observedInformer) AddEventHandlerWithOptions(h cache.ResourceEventHandler, o cache.HandlerOptions) (cache.ResourceEventHandlerRegistration, error) {
	reg, err := i.SharedIndexInformer.AddEventHandlerWithOptions(observedHandler{h, i.kind, i.b.seen}, o)
	if err == nil {
		i.b.mu.Lock()
		i.b.regs = append(i.b.regs, reg)
		i.b.mu.Unlock()
	}
	return reg, err
}

func (b *Barrier) informer(kind string, inf cache.SharedIndexInformer) observedInformer {
	return observedInformer{inf, kind, b}
}

type observedServices struct {
	coreinformers.ServiceInformer
	inf observedInformer
}

func (s observedServices) Informer() cache.SharedIndexInformer { return s.inf }

// Services is the informer to give the controller: its handlers are
// observed, with the kind "Service".
func (b *Barrier) Services(inf coreinformers.ServiceInformer) coreinformers.ServiceInformer {
	return observedServices{inf, b.informer("Service", inf.Informer())}
}

type observedNodes struct {
	coreinformers.NodeInformer
	inf observedInformer
}

func (s observedNodes) Informer() cache.SharedIndexInformer { return s.inf }

// Nodes is the informer to give the controller: its handlers are
// observed, with the kind "Node".
func (b *Barrier) Nodes(inf coreinformers.NodeInformer) coreinformers.NodeInformer {
	return observedNodes{inf, b.informer("Node", inf.Informer())}
}

type observedSlices struct {
	discoveryinformers.EndpointSliceInformer
	inf observedInformer
}

func (s observedSlices) Informer() cache.SharedIndexInformer { return s.inf }

// EndpointSlices is the informer to give the controller: its handlers are
// observed, with the kind "EndpointSlice".
func (b *Barrier) EndpointSlices(inf discoveryinformers.EndpointSliceInformer) discoveryinformers.EndpointSliceInformer {
	return observedSlices{inf, b.informer("EndpointSlice", inf.Informer())}
}

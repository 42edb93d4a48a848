package nodeip

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The barrier: a test that asserts that something did NOT happen (no
// write, no publication) first proves that the controller has finished
// with everything the test did. Waiting some time with nothing happening
// proves nothing: a controller that reacts later still passes. Instead:
//
//  1. both work queues are idle: nothing queued, nothing being synced,
//     nothing waiting for a delay (AddAfter, AddRateLimited) to pass;
//  2. then a marker object of each watched kind (Service, EndpointSlice,
//     Node) is changed, and the controller's own event handler is seen
//     to return for each marker. An informer hands its events to a
//     handler one at a time, in the order the API server sent them, so
//     every earlier event, the test's changes and the echoes of the
//     controller's own writes, has been handled;
//  3. and no queue operation happened at all from 1 to the end of 2: the
//     events handled meanwhile enqueued nothing. Otherwise it starts over.
//
// The queues and the handlers are the controller's real ones, observed
// from outside: the informers passed to New wrap the handlers New
// registers, and the queues New built are wrapped before the informers
// start.
//
// What it cannot see: work the controller would start outside its queues
// (it has none but the resync ticker, an hour in these tests), and a
// delayed add whose item an earlier add brought to a worker at or after
// its due time, in the moment before the delayed add lands (the wait is
// then taken as over).

// barrierKey is the annotation whose value names a marker round.
const barrierKey = "test.nodeip/barrier"

// barrierNamespace holds the marker Service and EndpointSlice: a Service
// of another load-balancer class without node ports and a slice of no
// Service, which the controller's handlers look at and enqueue nothing for.
const barrierNamespace = "barrier"

// queueTracker is the state of the controller's two queues that the
// queues do not show (Len counts only the queued items).
type queueTracker struct {
	mu sync.Mutex
	// ops counts every queue operation.
	ops uint64
	// inFlight are the items taken by Get and not yet Done.
	inFlight int
	// waiting are the items added with a delay, by queue and item, with
	// the earliest time each may be queued: the delaying queue keeps one
	// entry per item, the earliest (client-go util/workqueue
	// delaying_queue.go). An entry ends when the item is next taken at or
	// after that time.
	waiting map[any]delayedAdd
	queues  []interface{ Len() int }
}

// delayedAdd is an item's delayed add: the earliest time it may be queued, and
// whether it is the retry of a failed sync.
type delayedAdd struct {
	at    time.Time
	retry bool
}

type waitingItem[T comparable] struct {
	queue string
	item  T
}

// trackedQueue is one of the controller's queues, observed.
type trackedQueue[T comparable] struct {
	workqueue.TypedRateLimitingInterface[T]
	name string
	t    *queueTracker
	// minRetry and maxRetry bound the queue's rate limiter's exponential
	// backoff: AddRateLimited waits at least minRetry·2^requeues, capped.
	minRetry, maxRetry time.Duration
}

func track[T comparable](t *queueTracker, name string, q workqueue.TypedRateLimitingInterface[T], minRetry, maxRetry time.Duration) *trackedQueue[T] {
	t.queues = append(t.queues, q)
	return &trackedQueue[T]{TypedRateLimitingInterface: q, name: name, t: t, minRetry: minRetry, maxRetry: maxRetry}
}

func (q *trackedQueue[T]) Add(item T) {
	q.TypedRateLimitingInterface.Add(item)
	q.t.mu.Lock()
	q.t.ops++
	q.t.mu.Unlock()
}

func (q *trackedQueue[T]) Get() (T, bool) {
	item, quit := q.TypedRateLimitingInterface.Get()
	q.t.mu.Lock()
	defer q.t.mu.Unlock()
	q.t.ops++
	if !quit {
		q.t.inFlight++
		k := waitingItem[T]{q.name, item}
		if w, ok := q.t.waiting[k]; ok && !time.Now().Before(w.at) {
			delete(q.t.waiting, k)
		}
	}
	return item, quit
}

func (q *trackedQueue[T]) Done(item T) {
	q.TypedRateLimitingInterface.Done(item) // re-queues the item if it was added meanwhile
	q.t.mu.Lock()
	q.t.ops++
	q.t.inFlight--
	q.t.mu.Unlock()
}

func (q *trackedQueue[T]) AddAfter(item T, d time.Duration) {
	q.wait(item, d, false)
	q.TypedRateLimitingInterface.AddAfter(item, d)
}

func (q *trackedQueue[T]) AddRateLimited(item T) {
	d := q.minRetry << min(q.NumRequeues(item), 30)
	if d > q.maxRetry || d <= 0 {
		d = q.maxRetry
	}
	q.wait(item, d, true)
	q.TypedRateLimitingInterface.AddRateLimited(item)
}

func (q *trackedQueue[T]) wait(item T, d time.Duration, retry bool) {
	at := time.Now().Add(d)
	q.t.mu.Lock()
	defer q.t.mu.Unlock()
	q.t.ops++
	k := waitingItem[T]{q.name, item}
	if prev, ok := q.t.waiting[k]; !ok || at.Before(prev.at) {
		q.t.waiting[k] = delayedAdd{at, retry || (ok && prev.retry)}
	}
}

// idle: nothing queued, in flight or waiting (but, with retries, the
// retries of failed syncs); and the count of operations at that moment.
func (t *queueTracker) idle(retries bool) (bool, uint64, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	queued, waiting := 0, 0
	for _, q := range t.queues {
		queued += q.Len()
	}
	for _, w := range t.waiting {
		if !w.retry || !retries {
			waiting++
		}
	}
	return queued == 0 && t.inFlight == 0 && waiting == 0, t.ops,
		fmt.Sprintf("%d queued, %d in flight, %d waiting", queued, t.inFlight, waiting)
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
	if n, err := strconv.Atoi(m.GetAnnotations()[barrierKey]); err == nil {
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

// observedInformer is an informer whose handlers are observed.
type observedInformer struct {
	cache.SharedIndexInformer
	kind string
	seen *handled
}

func (i observedInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	return i.SharedIndexInformer.AddEventHandler(observedHandler{h, i.kind, i.seen})
}

type observedServices struct {
	coreinformers.ServiceInformer
	inf observedInformer
}

func (s observedServices) Informer() cache.SharedIndexInformer { return s.inf }

type observedNodes struct {
	coreinformers.NodeInformer
	inf observedInformer
}

func (s observedNodes) Informer() cache.SharedIndexInformer { return s.inf }

type observedSlices struct {
	discoveryinformers.EndpointSliceInformer
	inf observedInformer
}

func (s observedSlices) Informer() cache.SharedIndexInformer { return s.inf }

// observe returns the informers to pass to New, with their handlers
// observed.
func (h *harness) observe(services coreinformers.ServiceInformer, nodes coreinformers.NodeInformer, slices discoveryinformers.EndpointSliceInformer) (
	coreinformers.ServiceInformer, coreinformers.NodeInformer, discoveryinformers.EndpointSliceInformer) {
	h.seen = &handled{rounds: map[string]int{}}
	return observedServices{services, observedInformer{services.Informer(), "Service", h.seen}},
		observedNodes{nodes, observedInformer{nodes.Informer(), "Node", h.seen}},
		observedSlices{slices, observedInformer{slices.Informer(), "EndpointSlice", h.seen}}
}

// trackQueues wraps the queues of a controller that has not started.
func (h *harness) trackQueues(c *Controller) {
	h.queues = &queueTracker{waiting: map[any]delayedAdd{}}
	// The status queue's limiter is client-go's default controller limiter,
	// at least 5 ms doubling per failure up to 1000 s
	// (util/workqueue/default_rate_limiters.go).
	c.statusQueue = track(h.queues, "status", c.statusQueue, 5*time.Millisecond, 1000*time.Second)
	c.firewallQueue = track(h.queues, "firewall", c.firewallQueue, firewallRetryMin, firewallRetryMax)
}

// processed returns once the controller has handled every change made so
// far and finished the work they caused (see the top of this file).
func (h *harness) processed() {
	h.t.Helper()
	h.processedBut(false)
}

// processedButRetries is processed, but for the retries of failed syncs:
// for a failure that lasts (a rule of another owner in the way), the
// controller retries with a backoff for as long as it lasts.
func (h *harness) processedButRetries() {
	h.t.Helper()
	h.processedBut(true)
}

func (h *harness) processedBut(retries bool) {
	h.t.Helper()
	for {
		var ops uint64
		h.eventually("the controller's queues are idle", func() (bool, string) {
			ok, n, state := h.queues.idle(retries)
			ops = n
			return ok, state
		})
		h.marker++
		h.touchMarkers(h.marker)
		for _, kind := range h.markerKinds() {
			h.eventually(fmt.Sprintf("the controller handles the %s marker %d", kind, h.marker), func() (bool, string) {
				got := h.seen.round(kind)
				return got >= h.marker, fmt.Sprint(got)
			})
		}
		if ok, n, _ := h.queues.idle(retries); ok && n == ops {
			return
		}
	}
}

// markerKinds are the kinds whose marker touchMarkers changes: a Node
// only if there is one to annotate.
func (h *harness) markerKinds() []string {
	kinds := []string{"Service", "EndpointSlice"}
	if h.markerNode() != "" {
		kinds = append(kinds, "Node")
	}
	return kinds
}

func (h *harness) markerNode() string {
	list, err := h.client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		return ""
	}
	return list.Items[0].Name
}

// touchMarkers writes round n into the markers' annotation, creating the
// Service and the EndpointSlice the first time. On a Node, an annotation is
// no change the controller acts on (nodeChanged).
func (h *harness) touchMarkers(n int) {
	h.t.Helper()
	ctx, value := context.Background(), strconv.Itoa(n)
	annotations := map[string]string{barrierKey: value}
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: barrierNamespace, Name: "marker", Annotations: annotations},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer, LoadBalancerClass: ptr("example.com/barrier")}}
	if _, err := h.client.CoreV1().Services(barrierNamespace).Update(ctx, svc, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = h.client.CoreV1().Services(barrierNamespace).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
	} else if err != nil {
		h.t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: barrierNamespace, Name: "marker", Annotations: annotations},
		AddressType: discoveryv1.AddressTypeIPv4}
	if _, err := h.client.DiscoveryV1().EndpointSlices(barrierNamespace).Update(ctx, slice, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = h.client.DiscoveryV1().EndpointSlices(barrierNamespace).Create(ctx, slice, metav1.CreateOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
	} else if err != nil {
		h.t.Fatal(err)
	}
	if name := h.markerNode(); name != "" {
		h.updateNode(name, func(node *v1.Node) {
			if node.Annotations == nil {
				node.Annotations = map[string]string{}
			}
			node.Annotations[barrierKey] = value
		})
	}
}

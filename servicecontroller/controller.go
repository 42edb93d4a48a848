package servicecontroller

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	v1core "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	cloudprovider "k8s.io/cloud-provider"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/servicecontroller/nodeset"
)

// nodeSetKey is the node queue's only key: every node event asks for the
// same thing, one look at the node set, so bursts coalesce.
const nodeSetKey = "node-set"

// nodeSetBatch is how long a node event waits for others before the node
// set is looked at: a look takes microseconds and no longer waits for the
// cloud calls in flight, so without it nodes registering one after the
// other (a scale-up) would each publish a node set and queue every
// Service. A node reaches the load balancers this much later.
const nodeSetBatch = time.Second

// A failed sync is retried after minRetryDelay, doubling up to
// maxRetryDelay, as upstream's service controller does: a cloud API that
// refuses (a quota, an outage) is not asked again within milliseconds for
// every Service. Changes to a Service are not delayed by it: they queue
// the Service at once.
const (
	minRetryDelay = 5 * time.Second
	maxRetryDelay = 300 * time.Second
)

// retryLimiter is the queues' per-item backoff.
func retryLimiter[T comparable]() workqueue.TypedRateLimiter[T] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[T](minRetryDelay, maxRetryDelay)
}

// Controller reconciles LoadBalancer Services through a
// cloudprovider.LoadBalancer.
type Controller struct {
	balancer    cloudprovider.LoadBalancer
	clusterName string
	client      kubernetes.Interface
	services    corelisters.ServiceLister
	nodes       corelisters.NodeLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	nodeQueue   workqueue.TypedRateLimitingInterface[string]
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	// note is what a built load balancer still tells its Service
	// (WithNote); nil for nothing.
	note func(*v1.Service) lbcondition.Note
	// nodeSetBatch is the constant of that name; a test that counts
	// node-set syncs sets zero, as it cannot wait on a timer.
	nodeSetBatch time.Duration

	// refreshing serialises publishNodeSet, which both the node queue and
	// an ensuring worker call: a set listed earlier is never published
	// after one listed later.
	refreshing sync.Mutex

	mu sync.Mutex
	// mu guards what follows. records holds each Service's last successful
	// reconcile.
	records map[string]lastSync
	// gone holds the last state of handled Services that left the cache
	// without the cleanup finalizer, until their load balancer is deleted.
	gone map[string]*v1.Service
	// nodeSet is the node set last published (nil before the first).
	nodeSet *nodeSet
}

// nodeSet is one publication of the eligible nodes. A provider call takes
// the set current when it starts and keeps it to the end, so publishing
// waits for no call in flight (a load balancer's creation takes minutes).
// The version, carried in the call's context, lets the provider refuse an
// older set in a resource several Services share once a newer one was
// applied there (nlb's shared instance groups), and the call that took the
// older set is queued again by remember.
type nodeSet struct {
	// nodes are the eligible nodes sorted by name, shared and never
	// modified.
	nodes   []*v1.Node
	hash    uint64
	version nodeset.Version
}

// lastSync is what a Service's last successful reconcile saw and wrote.
type lastSync struct {
	uid   types.UID
	spec  uint64
	nodes uint64
	// status is the status.loadBalancer the controller last wrote (or found
	// right); elsewhere means the provider said another controller
	// implements the Service, which then owns its status.
	status    v1.LoadBalancerStatus
	elsewhere bool
	// stale asks for a full ensure on the next reconcile (a periodic
	// resync, or a failed update), without the events of a new request.
	stale bool
}

// New builds the controller on the given informers.
func New(cloud cloudprovider.Interface, client kubernetes.Interface, services coreinformers.ServiceInformer,
	nodes coreinformers.NodeInformer, clusterName string, opts ...Option) (*Controller, error) {
	balancer, ok := cloud.LoadBalancer()
	if !ok {
		return nil, fmt.Errorf("the cloud provider %s has no load balancers", cloud.ProviderName())
	}
	registerMetrics()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		balancer:    balancer,
		clusterName: clusterName,
		client:      client,
		services:    services.Lister(),
		nodes:       nodes.Lister(),
		synced:      []cache.InformerSynced{services.Informer().HasSynced, nodes.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			retryLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "service-lb"}),
		nodeQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			retryLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "service-lb-nodes"}),
		broadcaster:  broadcaster,
		recorder:     broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "service-controller"}),
		records:      map[string]lastSync{},
		gone:         map[string]*v1.Service{},
		nodeSetBatch: nodeSetBatch,
	}
	for _, o := range opts {
		o(c)
	}
	if _, err := services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.serviceAdded,
		UpdateFunc: c.serviceUpdated,
		DeleteFunc: c.serviceDeleted,
	}); err != nil {
		return nil, fmt.Errorf("watch Services: %w", err)
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.nodeChanged() },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*v1.Node)
			n, ok2 := cur.(*v1.Node)
			if ok1 && ok2 && nodeChangeMatters(o, n) {
				c.nodeChanged()
			}
		},
		DeleteFunc: func(any) { c.nodeChanged() },
	}); err != nil {
		return nil, fmt.Errorf("watch Nodes: %w", err)
	}
	return c, nil
}

// Run reconciles with the given number of workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	defer c.nodeQueue.ShutDown()
	logger := klog.FromContext(ctx)
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&v1core.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()

	logger.Info("Starting the LoadBalancer Service controller", "workers", workers)
	defer logger.Info("Stopped the LoadBalancer Service controller")
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced...) {
		return
	}
	// The node set is known before the first Service is reconciled, so
	// that the first ensure already has it.
	c.refreshNodeSet(ctx)
	for range max(workers, 1) {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for c.processService(ctx) {
			}
		}, time.Second)
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for c.processNodeSet(ctx) {
		}
	}, time.Second)
	<-ctx.Done()
}

// nodeChanged asks for a node-set sync within nodeSetBatch. Every node
// event asks for the same key (nodeSetKey), so however many arrive while a
// sync waits or runs, they make one more sync between them.
func (c *Controller) nodeChanged() {
	c.nodeQueue.AddAfter(nodeSetKey, c.nodeSetBatch)
	nodeEvents.Inc()
}

func (c *Controller) serviceAdded(obj any) {
	if svc, ok := obj.(*v1.Service); ok && handled(svc) {
		c.enqueue(svc)
	}
}

func (c *Controller) serviceUpdated(old, cur any) {
	o, ok1 := old.(*v1.Service)
	n, ok2 := cur.(*v1.Service)
	if !ok1 || !ok2 || !(handled(o) || handled(n)) {
		return
	}
	if o.ResourceVersion != "" && o.ResourceVersion == n.ResourceVersion {
		// The informer's periodic resync (an API server always changes
		// the resource version on a write): re-ensure, so that a load
		// balancer changed behind the controller's back is repaired.
		c.markStale(cache.MetaObjectToName(n).String())
	}
	c.enqueue(n)
}

func (c *Controller) serviceDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	svc, ok := obj.(*v1.Service)
	if !ok {
		return
	}
	key := cache.MetaObjectToName(svc).String()
	c.mu.Lock()
	_, known := c.records[key]
	if known && wantsLoadBalancer(svc) {
		c.gone[key] = svc
	}
	c.mu.Unlock()
	if known {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueue(svc *v1.Service) {
	c.queue.Add(cache.MetaObjectToName(svc).String())
}

// markStale asks for a full ensure on the Service's next reconcile; it
// queues nothing itself, so a failing Service keeps its backoff.
func (c *Controller) markStale(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.records[key]; ok {
		r.stale = true
		c.records[key] = r
	}
}

func (c *Controller) processService(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.syncService(ctx, key); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Reconciling a LoadBalancer Service failed; retrying with backoff", "service", key)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

func (c *Controller) processNodeSet(ctx context.Context) bool {
	key, quit := c.nodeQueue.Get()
	if quit {
		return false
	}
	defer c.nodeQueue.Done(key)
	c.refreshNodeSet(ctx)
	c.nodeQueue.Forget(key)
	return true
}

// refreshNodeSet recomputes the eligible nodes and, when their fingerprint
// changed, queues every Service whose load balancer was built for another
// set. The queue, not this function, calls the provider: a Service is then
// never reconciled by two goroutines at once.
func (c *Controller) refreshNodeSet(ctx context.Context) {
	nodeSetSyncs.Inc()
	c.publishNodeSet(ctx)
}

// publishNodeSet lists the eligible nodes from the cache and publishes them
// when their fingerprint changed, queueing the Services built for another
// set (refreshNodeSet).
func (c *Controller) publishNodeSet(ctx context.Context) {
	c.refreshing.Lock()
	defer c.refreshing.Unlock()
	all, err := c.nodes.List(labels.Everything())
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Listing nodes from the cache failed")
		return
	}
	set := eligibleNodes(all)
	hash := nodeSetFingerprint(set)
	c.mu.Lock()
	changed := c.nodeSet == nil || hash != c.nodeSet.hash
	var behind []string
	if changed {
		c.nodeSet = &nodeSet{nodes: set, hash: hash, version: nodeset.Next()}
		for key, r := range c.records {
			if r.nodes != hash {
				behind = append(behind, key)
			}
		}
	}
	c.mu.Unlock()
	if !changed {
		return
	}
	nodeSyncs.WithLabelValues("node_set").Inc()
	nodeSyncs.WithLabelValues("service").Add(float64(len(behind)))
	klog.FromContext(ctx).V(2).Info("The load balancers' node set changed", "nodes", len(set), "services", len(behind))
	for _, key := range behind {
		c.queue.Add(key)
	}
}

// freshNodeSet returns the node set as the cache has it now: when it
// differs from the one last published (a node event still waits in the
// batch window, or its handler has not run yet), it publishes first,
// queueing the Services built for the older set as the batched sync would.
// So a load balancer being built gets every node that joined before it, not
// the nodes of up to a batch window ago.
func (c *Controller) freshNodeSet(ctx context.Context) nodeSet {
	c.publishNodeSet(ctx)
	return c.currentNodeSet()
}

// currentNodeSet returns the node set last published.
func (c *Controller) currentNodeSet() nodeSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodeSet == nil {
		return nodeSet{}
	}
	return *c.nodeSet
}

func (c *Controller) lookup(key string) (lastSync, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.records[key]
	return r, ok
}

// remember records a successful reconcile. If the node set changed while
// the provider worked, the Service was built for an older set and
// refreshNodeSet, which ran meanwhile, may not have queued it: queue it now.
func (c *Controller) remember(key string, r lastSync) {
	c.mu.Lock()
	c.records[key] = r
	behind := c.nodeSet != nil && r.nodes != c.nodeSet.hash
	c.mu.Unlock()
	if behind {
		c.queue.Add(key)
	}
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.records, key)
	delete(c.gone, key)
}

// takeGone returns the last state of a Service that left the cache.
func (c *Controller) takeGone(key string) *v1.Service {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone[key]
}

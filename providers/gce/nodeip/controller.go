package nodeip

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// Name is the controller's name: --controllers takes it, and events and
// logs carry it.
const Name = "nodeip-service"

// Informer index names.
const (
	portIndex         = "nodeip-port"      // served Services by "TCP/80"
	nodePortIndex     = "nodeip-node-port" // every Service by its node ports, "TCP/31000"
	sliceServiceIndex = "nodeip-service"   // EndpointSlices by "namespace/service"
)

// Controller publishes node addresses for nodeip Services and keeps their
// firewall rules (one per IP family). It has two work queues keyed by
// Service: status (cheap, Kubernetes only) and firewall (calls the cloud),
// so that a slow cloud delays the opening of firewalls but never the
// taking back of addresses.
type Controller struct {
	client          kubernetes.Interface
	deps            Deps
	opts            Options
	defaultSelector labels.Selector
	rule            ruleParams

	services     corelisters.ServiceLister
	serviceIndex cache.Indexer
	nodes        corelisters.NodeLister
	slices       cache.Indexer
	synced       []cache.InformerSynced

	statusQueue   workqueue.TypedRateLimitingInterface[string]
	firewallQueue workqueue.TypedRateLimitingInterface[firewallKey]
	view          *firewallView

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder

	// nodeGen counts node changes; nodeSnap is the nodes as of a count.
	nodeGen  atomic.Uint64
	snapMu   sync.Mutex
	nodeSnap *nodeSnapshot

	// kubeProxyIPVS: kube-proxy's ConfigMap says mode ipvs (kubeproxy.go).
	kubeProxyIPVS atomic.Bool

	mu sync.Mutex
	// firewallProblems are the firewall errors the user must fix, by UID.
	firewallProblems map[string]*problem
	// failedRules are the rules a firewall change failed to make, by UID,
	// until one succeeds: asking again for the same rules waits for the
	// queue's backoff (see needFirewall).
	failedRules map[string][]firewall.Rule
	// claims are the last claims, by Service key, to tell when the
	// Services that share a port need another look.
	claims map[string]claimMemo
	// written are the Services as this controller last wrote them, by key,
	// until the informer catches up (see freshest).
	written map[string]writtenService
	// served are the Services this process served and has not released
	// yet: their keys, by UID.
	served map[string]string
}

// firewallKey names the rules of one Service: by UID as well as by key, so
// that the rules of a deleted Service are removed even when a new Service
// of the same name exists.
type firewallKey struct {
	Service string // namespace/name
	UID     string
}

type claimMemo struct {
	signature string
	ports     []protoPort
}

// New builds the controller and registers its informer handlers and
// indexes; call it before the informers start.
func New(client kubernetes.Interface, services coreinformers.ServiceInformer, nodes coreinformers.NodeInformer,
	slices discoveryinformers.EndpointSliceInformer, deps Deps, opts Options) (*Controller, error) {
	sel, err := nodeCeiling(deps.Defaults)
	if err != nil {
		return nil, fmt.Errorf("cloud config: [load-balancer] nodeip-node-selector: %q is not a label selector: %w", deps.Defaults.NodeSelector, err)
	}
	if deps.Compute == nil || deps.FirewallName == nil || deps.FirewallNameIPv6 == nil || deps.Owner.Name() == "" {
		return nil, fmt.Errorf("nodeip controller: incomplete dependencies (compute client, firewall naming and owner are required)")
	}
	registerMetrics()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client: client, deps: deps, opts: opts.withDefaults(), defaultSelector: sel,
		rule:     ruleParams{Owner: deps.Owner, Network: deps.Network, NodeTags: deps.NodeTags},
		services: services.Lister(), serviceIndex: services.Informer().GetIndexer(),
		nodes: nodes.Lister(), slices: slices.Informer().GetIndexer(),
		synced: []cache.InformerSynced{services.Informer().HasSynced, nodes.Informer().HasSynced, slices.Informer().HasSynced},
		statusQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodeip_service_status"}),
		// A failed status write (a conflict with another writer) is worth
		// retrying at once; a failed firewall write is the cloud API
		// refusing, asked again after 5 s doubling to 5 minutes, as the
		// service controller does.
		firewallQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[firewallKey](firewallRetryMin, firewallRetryMax),
			workqueue.TypedRateLimitingQueueConfig[firewallKey]{Name: "nodeip_service_firewall"}),
		broadcaster:      broadcaster,
		recorder:         broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: Name + "-controller"}),
		firewallProblems: map[string]*problem{},
		failedRules:      map[string][]firewall.Rule{},
		claims:           map[string]claimMemo{},
		written:          map[string]writtenService{},
		served:           map[string]string{},
	}
	c.view = newFirewallView(deps.Compute, deps.Owner, c.isOurRule)
	if err := c.register(services, nodes, slices); err != nil {
		return nil, err
	}
	return c, nil
}

// register adds the controller's indexes and event handlers to the
// informers.
func (c *Controller) register(services coreinformers.ServiceInformer, nodes coreinformers.NodeInformer,
	slices discoveryinformers.EndpointSliceInformer) error {
	if err := services.Informer().AddIndexers(cache.Indexers{portIndex: c.servicePorts, nodePortIndex: serviceNodePorts}); err != nil {
		return fmt.Errorf("index services by port: %w", err)
	}
	if err := slices.Informer().AddIndexers(cache.Indexers{sliceServiceIndex: sliceService}); err != nil {
		return fmt.Errorf("index endpoint slices by service: %w", err)
	}
	if _, err := services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.onServiceAdd, UpdateFunc: c.onServiceUpdate, DeleteFunc: c.onServiceDelete,
	}); err != nil {
		return err
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.nodesChanged() },
		UpdateFunc: c.onNodeUpdate,
		DeleteFunc: func(any) { c.nodesChanged() },
	}); err != nil {
		return err
	}
	if _, err := slices.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.onSliceChange, UpdateFunc: c.onSliceUpdate, DeleteFunc: c.onSliceChange,
	}); err != nil {
		return err
	}
	return nil
}

// Name is the controller's name, for the controller manager's health checks.
func (c *Controller) Name() string { return Name }

// Run serves until ctx ends. It waits for the informers, loads the view of
// the firewall rules, starts the workers, and re-reads the rules every
// resync interval.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer c.statusQueue.ShutDown()
	defer c.firewallQueue.ShutDown()
	logger := klog.FromContext(ctx).WithName(Name)
	ctx = klog.NewContext(ctx, logger)

	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()

	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		return
	}
	if _, err := c.view.refresh(ctx); err != nil {
		logger.Error(err, "Cannot list firewall rules; each rule is read when first needed")
	}
	c.checkKubeProxyMode(ctx)
	c.enqueueInteresting()
	for range c.opts.StatusWorkers {
		go wait.UntilWithContext(ctx, func(ctx context.Context) { work(ctx, "status", c.statusQueue, c.syncStatus) }, time.Second)
	}
	for range c.opts.FirewallWorkers {
		go wait.UntilWithContext(ctx, func(ctx context.Context) { work(ctx, "firewall", c.firewallQueue, c.syncFirewall) }, time.Second)
	}
	go func() {
		tick := time.NewTicker(c.opts.ResyncInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				c.checkKubeProxyMode(ctx)
				c.resync(ctx)
			}
		}
	}()
	logger.Info("Started", "statusWorkers", c.opts.StatusWorkers, "firewallWorkers", c.opts.FirewallWorkers)
	<-ctx.Done()
}

// The backoff of a failed firewall sync.
const (
	firewallRetryMin = 5 * time.Second
	firewallRetryMax = 300 * time.Second
)

// work processes a queue until it shuts down; a failed item is retried
// with the queue's backoff.
func work[T comparable](ctx context.Context, name string, q workqueue.TypedRateLimitingInterface[T], sync func(context.Context, T) error) {
	for {
		item, quit := q.Get()
		if quit {
			return
		}
		start := time.Now()
		err := sync(ctx, item)
		observeSync(name, start, err)
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Will retry", "item", item, "err", err)
			q.AddRateLimited(item)
		} else {
			q.Forget(item)
		}
		q.Done(item)
	}
}

// isOurRule: the rule carries the cluster's marker and one of the names
// this controller gives the rules of the Service in its description.
func (c *Controller) isOurRule(fw *compute.Firewall) bool {
	if !c.deps.Owner.Owns(fw.Name, fw.Description) {
		return false
	}
	keys, _ := ownership.Parse(fw.Description)
	uid := keys[ownership.ServiceUIDKey]
	if uid == "" {
		return false
	}
	names := c.ruleNames(uid)
	return fw.Name == names.IPv4 || fw.Name == names.IPv6
}

// ruleNames are the names of the firewall rules of the Service with this
// UID.
func (c *Controller) ruleNames(uid string) ruleNames {
	return ruleNames{IPv4: c.deps.FirewallName(uid), IPv6: c.deps.FirewallNameIPv6(uid)}
}

// nodeSnapshot is the nodes, read for answers, as of a count of changes.
type nodeSnapshot struct {
	gen   uint64
	infos []nodeInfo
}

// nodeInfos are the nodes as answers read them, sorted by name; they are
// worked out again only after a node changed.
func (c *Controller) nodeInfos() []nodeInfo {
	gen := c.nodeGen.Load()
	c.snapMu.Lock()
	snap := c.nodeSnap
	c.snapMu.Unlock()
	if snap != nil && snap.gen == gen {
		return snap.infos
	}
	nodes, _ := c.nodes.List(labels.Everything())
	snap = &nodeSnapshot{gen: gen, infos: nodeInfosOf(nodes)}
	c.snapMu.Lock()
	if c.nodeSnap == nil || c.nodeSnap.gen <= gen {
		c.nodeSnap = snap
	}
	c.snapMu.Unlock()
	return snap.infos
}

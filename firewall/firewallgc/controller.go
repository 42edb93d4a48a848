// Package firewallgc is the firewall garbage collector as a controller of
// the cloud controller manager ("firewall-gc"): at start and every Period,
// it deletes the cluster's firewall rules whose Service no longer exists,
// which a Service deleted while no CCM ran (or whose finalizer was removed
// by hand) left behind. Being in the command's controller map, it runs in
// the leader only and --controllers can turn it off.
//
// It never deletes the rule of a Service that exists: a rule is collected
// only when its Service's UID is in neither the shared informer's cache
// (read after the rules were listed, and after the cache synced) nor the
// API server's answer for the Service the rule names (see live). It writes
// nothing to the Kubernetes API.
package firewallgc

import (
	"context"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
)

// Name is the controller's name in --controllers.
const Name = "firewall-gc"

// Period is how often the collector runs after its first pass.
const Period = 10 * time.Minute

// Collect is one pass over the cluster's rules (the provider's
// CollectFirewallGarbage, over firewall.CollectGarbage): it lists them,
// asks live about each rule's Service, and deletes the rules of the dead
// ones, returning their names.
type Collect func(ctx context.Context, live func(firewall.RuleService) bool) ([]string, error)

// Controller is the collector.
type Controller struct {
	collect  Collect
	client   kubernetes.Interface
	services corelisters.ServiceLister
	synced   cache.InformerSynced
	period   time.Duration
}

// New builds the collector on the shared Service informer. client is the
// controller's own: it only gets a Service the cache does not know.
func New(collect Collect, client kubernetes.Interface, services coreinformers.ServiceInformer) *Controller {
	return &Controller{collect: collect, client: client, services: services.Lister(),
		synced: services.Informer().HasSynced, period: Period}
}

// Run collects at once, once the Service cache has synced, then every
// period until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	log := klog.FromContext(ctx).WithName(Name)
	ctx = klog.NewContext(ctx, log)
	log.Info("Starting the firewall garbage collector", "period", c.period)
	defer log.Info("Stopped the firewall garbage collector")
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced) {
		return
	}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		deleted, err := c.CollectOnce(ctx)
		if err != nil {
			log.Error(err, "Firewall garbage collection failed")
		}
		if len(deleted) > 0 {
			log.Info("Deleted firewall rules of Services that are gone", "rules", deleted)
		}
	}, c.period)
}

// CollectOnce is one pass; the Service cache must have synced.
//
// Why the cache is enough to keep every live Service's rule, and why it is
// read after the rules are listed: a controller makes a Service's rule
// after it has seen the Service, so a rule in the list belongs to a Service
// that existed before the list was made. The cache, read afterwards, holds
// every Service that existed when it synced and every one it has seen
// since; it forgets a Service only when it sees it deleted. The
// controllers that make rules read the same cache in this process, and a
// previous leader's rules are of Services that existed before this
// process's informers started (they start once it leads), so the cache
// knows them all, unless a previous leader still running made a rule for a
// Service created a moment ago that this cache has not yet seen. For that
// the API server, read after the rules were listed too, has the last word
// (live).
func (c *Controller) CollectOnce(ctx context.Context) ([]string, error) {
	var known map[string]bool
	return c.collect(ctx, func(s firewall.RuleService) bool {
		if known == nil {
			known = c.cachedUIDs(ctx)
			if known == nil {
				return true
			}
		}
		return known[s.UID] || c.existsInAPIServer(ctx, s)
	})
}

// cachedUIDs are the UIDs of the Services in the cache, nil when it cannot
// be read (every rule is then kept).
func (c *Controller) cachedUIDs(ctx context.Context) map[string]bool {
	list, err := c.services.List(labels.Everything())
	if err != nil {
		klog.FromContext(ctx).Error(err, "Cannot list Services from the cache; keeping every rule this time")
		return nil
	}
	known := make(map[string]bool, len(list))
	for _, s := range list {
		known[string(s.UID)] = true
	}
	return known
}

// existsInAPIServer asks the API server for the Service a rule names, which
// the cache does not know: a get without a resource version is served from
// storage, so it is as fresh as the rule list. A rule that names no Service
// key is judged by the cache alone. On any error but NotFound the rule is
// kept.
func (c *Controller) existsInAPIServer(ctx context.Context, s firewall.RuleService) bool {
	ns, name, ok := strings.Cut(s.Key, "/")
	if !ok || ns == "" || name == "" {
		return false
	}
	svc, err := c.client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false
	case err != nil:
		klog.FromContext(ctx).Error(err, "Cannot get the Service of a firewall rule; keeping the rule", "service", s.Key)
		return true
	}
	// Another Service of the same name is a new one: the rule's is gone.
	return string(svc.UID) == s.UID
}

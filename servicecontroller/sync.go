package servicecontroller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	cloudprovider "k8s.io/cloud-provider"
	servicehelper "k8s.io/cloud-provider/service/helpers"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/servicecontroller/nodeset"
)

// step is what a reconcile of a Service has to do, decided from the Service
// and its last successful reconcile alone.
type step int

const (
	// stepNone: the load balancer was built from this spec and node set
	// and the status is the one written: no call at all.
	stepNone step = iota
	// stepEnsure: a new or changed request (or a stale record): the
	// provider's EnsureLoadBalancer, then the status.
	stepEnsure
	// stepUpdateNodes: only the node set changed: UpdateLoadBalancer.
	stepUpdateNodes
	// stepDelete: the Service no longer wants a load balancer, or is going.
	stepDelete
)

// nextStep is the pure decision at the heart of a reconcile.
func nextStep(svc *v1.Service, last lastSync, known bool, spec, nodes uint64) step {
	switch {
	case !wantsLoadBalancer(svc) || needsCleanup(svc):
		return stepDelete
	case !known || last.stale || last.uid != svc.UID || last.spec != spec:
		return stepEnsure
	case !last.elsewhere && !servicehelper.LoadBalancerStatusEqual(&last.status, &svc.Status.LoadBalancer):
		// Someone changed the status the controller wrote: ensure and
		// write it again.
		return stepEnsure
	case last.nodes != nodes:
		return stepUpdateNodes
	}
	return stepNone
}

func (c *Controller) syncService(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		return c.deleteGone(ctx, key)
	case err != nil:
		return fmt.Errorf("get Service %s from the cache: %w", key, err)
	}
	last, known := c.lookup(key)
	if known && last.uid != svc.UID {
		// Deleted and re-created between two looks, without the
		// finalizer: the old load balancer goes first.
		if err := c.deleteGone(ctx, key); err != nil {
			return err
		}
		known = false
	}
	spec := specFingerprint(svc)
	switch nextStep(svc, last, known, spec, c.currentNodeSet().hash) {
	case stepDelete:
		return c.timed("delete", func() error { return c.delete(ctx, key, svc.DeepCopy()) })
	case stepEnsure:
		newRequest := !known || last.spec != spec || last.uid != svc.UID
		return c.timed("ensure", func() error {
			return c.ensure(ctx, key, svc.DeepCopy(), lastSync{uid: svc.UID, spec: spec}, newRequest)
		})
	case stepUpdateNodes:
		return c.timed("update", func() error { return c.updateNodes(ctx, key, svc.DeepCopy(), last) })
	}
	return nil
}

func (c *Controller) timed(operation string, f func() error) error {
	start := time.Now()
	err := f()
	result := "success"
	if err != nil {
		result = "error"
	}
	syncDuration.WithLabelValues(operation, result).Observe(time.Since(start).Seconds())
	return err
}

// ensure adds the finalizer, ensures the load balancer and writes its
// status when it changed.
func (c *Controller) ensure(ctx context.Context, key string, svc *v1.Service, next lastSync, newRequest bool) error {
	logger := klog.FromContext(ctx)
	if newRequest {
		c.recorder.Event(svc, v1.EventTypeNormal, "EnsuringLoadBalancer", "Ensuring load balancer")
	}
	if err := c.addFinalizer(ctx, svc); err != nil {
		return fmt.Errorf("add the load balancer cleanup finalizer to %s: %w", key, err)
	}
	// The node set is taken just before the call, with its version: see
	// nodeSet.
	set := c.freshNodeSet(ctx)
	next.nodes = set.hash
	if len(set.nodes) == 0 {
		c.recorder.Event(svc, v1.EventTypeWarning, "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
	}
	status, err := c.balancer.EnsureLoadBalancer(nodeset.WithVersion(ctx, set.version), c.clusterName, svc, set.nodes)
	switch {
	case errors.Is(err, cloudprovider.ImplementedElsewhere):
		// Another controller implements this Service and owns its
		// status; the finalizer still lets the provider clean up.
		logger.V(4).Info("LoadBalancer implemented by another controller", "service", klog.KObj(svc))
		next.elsewhere = true
		c.remember(key, next)
		return nil
	case err != nil:
		c.forget(key)
		c.tellProblem(ctx, svc, err)
		c.recorder.Eventf(svc, v1.EventTypeWarning, "SyncLoadBalancerFailed", "Error syncing load balancer: %v", err)
		return fmt.Errorf("ensure load balancer for %s: %w", key, err)
	case status == nil:
		c.forget(key)
		return fmt.Errorf("ensure load balancer for %s: the provider returned no status", key)
	}
	if _, err := c.writeStatus(ctx, svc, status, c.reportFor(svc, nil)); err != nil {
		c.forget(key)
		return fmt.Errorf("write the load balancer status of %s: %w", key, err)
	}
	if newRequest {
		c.recorder.Event(svc, v1.EventTypeNormal, "EnsuredLoadBalancer", "Ensured load balancer")
	}
	next.status = *status
	c.remember(key, next)
	return nil
}

// updateNodes tells the load balancer about a new node set.
func (c *Controller) updateNodes(ctx context.Context, key string, svc *v1.Service, last lastSync) error {
	set := c.currentNodeSet()
	nodes := set.nodes
	err := c.balancer.UpdateLoadBalancer(nodeset.WithVersion(ctx, set.version), c.clusterName, svc, nodes)
	switch {
	case err == nil, errors.Is(err, cloudprovider.ImplementedElsewhere):
	default:
		// The next try ensures the whole load balancer: whatever broke
		// half-way is repaired by the same path that built it.
		c.markStale(key)
		c.tellProblem(ctx, svc, err)
		c.recorder.Eventf(svc, v1.EventTypeWarning, "UpdateLoadBalancerFailed",
			"Error updating load balancer with new hosts (%d nodes): %v", len(nodes), err)
		return fmt.Errorf("update load balancer hosts for %s: %w", key, err)
	}
	if err == nil {
		// UpdateLoadBalancer may have ensured the whole load balancer.
		if _, err := c.writeStatus(ctx, svc, nil, c.reportFor(svc, nil)); err != nil {
			c.markStale(key)
			return fmt.Errorf("write the LoadBalancerReady condition of %s: %w", key, err)
		}
		if len(nodes) == 0 {
			c.recorder.Event(svc, v1.EventTypeWarning, "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
		} else {
			c.recorder.Event(svc, v1.EventTypeNormal, "UpdatedLoadBalancer", "Updated load balancer with new hosts")
		}
	}
	last.nodes = set.hash
	c.remember(key, last)
	return nil
}

// delete removes the load balancer of a Service that no longer wants one
// (or is being deleted), then the finalizer, then the status.
func (c *Controller) delete(ctx context.Context, key string, svc *v1.Service) error {
	_, exists, err := c.balancer.GetLoadBalancer(ctx, c.clusterName, svc)
	if err != nil {
		return fmt.Errorf("look up the load balancer of %s before deleting it: %w", key, err)
	}
	if exists {
		c.recorder.Event(svc, v1.EventTypeNormal, "DeletingLoadBalancer", "Deleting load balancer")
	}
	// EnsureLoadBalancerDeleted also when GetLoadBalancer finds nothing:
	// a half-deleted load balancer (its forwarding rule gone first) still
	// has parts to remove, and the call is a no-op when there are none.
	if err := c.balancer.EnsureLoadBalancerDeleted(ctx, c.clusterName, svc); err != nil && !errors.Is(err, cloudprovider.ImplementedElsewhere) {
		c.recorder.Eventf(svc, v1.EventTypeWarning, "DeleteLoadBalancerFailed", "Error deleting load balancer: %v", err)
		return fmt.Errorf("delete load balancer of %s: %w", key, err)
	}
	hadFinalizer := servicehelper.HasLBFinalizer(svc)
	if err := c.removeFinalizer(ctx, svc); err != nil {
		return fmt.Errorf("remove the load balancer cleanup finalizer of %s: %w", key, err)
	}
	if exists || hadFinalizer {
		c.recorder.Event(svc, v1.EventTypeNormal, "DeletedLoadBalancer", "Deleted load balancer")
	}
	if _, err := c.writeStatus(ctx, svc, &v1.LoadBalancerStatus{}, &report{remove: true}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("clear the load balancer status of %s: %w", key, err)
	}
	c.forget(key)
	return nil
}

// deleteGone deletes the load balancer of a Service that left the cache
// without passing through the finalizer (for example a Service created
// before the finalizer existed, or whose finalizer someone removed).
func (c *Controller) deleteGone(ctx context.Context, key string) error {
	svc := c.takeGone(key)
	if svc == nil {
		c.forget(key)
		return nil
	}
	if err := c.balancer.EnsureLoadBalancerDeleted(ctx, c.clusterName, svc); err != nil && !errors.Is(err, cloudprovider.ImplementedElsewhere) {
		c.recorder.Eventf(svc, v1.EventTypeWarning, "DeleteLoadBalancerFailed", "Error deleting load balancer: %v", err)
		return fmt.Errorf("delete load balancer of deleted Service %s: %w", key, err)
	}
	c.recorder.Event(svc, v1.EventTypeNormal, "DeletedLoadBalancer", "Deleted load balancer")
	c.forget(key)
	return nil
}

func (c *Controller) addFinalizer(ctx context.Context, svc *v1.Service) error {
	if servicehelper.HasLBFinalizer(svc) {
		return nil
	}
	updated := svc.DeepCopy()
	updated.Finalizers = append(updated.Finalizers, servicehelper.LoadBalancerCleanupFinalizer)
	klog.FromContext(ctx).V(2).Info("Adding the load balancer cleanup finalizer", "service", klog.KObj(svc))
	if _, err := servicehelper.PatchService(c.client.CoreV1(), svc, updated); err != nil {
		return err
	}
	svc.Finalizers = updated.Finalizers
	return nil
}

func (c *Controller) removeFinalizer(ctx context.Context, svc *v1.Service) error {
	if !servicehelper.HasLBFinalizer(svc) {
		return nil
	}
	updated := svc.DeepCopy()
	updated.Finalizers = slices.DeleteFunc(updated.Finalizers, func(f string) bool {
		return f == servicehelper.LoadBalancerCleanupFinalizer
	})
	klog.FromContext(ctx).V(2).Info("Removing the load balancer cleanup finalizer", "service", klog.KObj(svc))
	if _, err := servicehelper.PatchService(c.client.CoreV1(), svc, updated); err != nil {
		return err
	}
	svc.Finalizers = updated.Finalizers
	return nil
}

// tellProblem writes what a failed reconcile tells the Service's owner (a
// Warning event and the condition, for an lbcondition.Problem). A write
// that fails is only logged: the reconcile's own error is what is retried,
// and the retry tells again.
func (c *Controller) tellProblem(ctx context.Context, svc *v1.Service, err error) {
	if _, werr := c.writeStatus(ctx, svc, nil, c.reportFor(svc, err)); werr != nil {
		klog.FromContext(ctx).Error(werr, "Cannot write the Service's LoadBalancerReady condition", "service", klog.KObj(svc))
	}
}

package servicecontroller

import (
	"context"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/queuebarrier"
)

// The barrier (test/queuebarrier): a test that asserts that something did
// NOT happen (no cloud call, no write) first proves that the controller has
// finished with everything the test did: its two queues idle (the node
// queue's batch window, an AddAfter, counts as work left), then a marker
// of each watched kind through the controller's own handlers, with no
// queue operation in between. This file holds what is this controller's
// own: its queues' backoffs and its markers.
//
// What it cannot see here: besides what the package says, the node-set
// look Run makes before its workers start, outside the queues; it calls no
// provider and queues only Services a reconcile already recorded, which a
// controller that has not started its workers has none of.

// barrierNamespace holds the marker Service: of another load-balancer
// class, which the controller's handlers look at and enqueue nothing for
// (handled).
const barrierNamespace = "barrier"

// observe returns the informers to pass to New, with their handlers
// observed, for a new controller.
func (h *harness) observe(services coreinformers.ServiceInformer, nodes coreinformers.NodeInformer) (
	coreinformers.ServiceInformer, coreinformers.NodeInformer) {
	if h.barrier == nil {
		h.barrier = queuebarrier.New()
	}
	h.barrier.Observe()
	return h.barrier.Services(services), h.barrier.Nodes(nodes)
}

// trackQueues wraps the queues of a controller that has not started. Both
// back off with retryLimiter.
func (h *harness) trackQueues(c *Controller) {
	c.queue = queuebarrier.Track(h.barrier, "services", c.queue, minRetryDelay, maxRetryDelay)
	c.nodeQueue = queuebarrier.Track(h.barrier, "node-set", c.nodeQueue, minRetryDelay, maxRetryDelay)
}

// processed returns once the controller has handled every change made so
// far and finished the work they caused.
func (h *harness) processed() {
	h.t.Helper()
	h.barrier.Processed(h.t, false, h.touchMarkers)
}

// processedButRetries is processed, but the delayed retries of failed
// syncs are not work left.
func (h *harness) processedButRetries() {
	h.t.Helper()
	h.barrier.Processed(h.t, true, h.touchMarkers)
}

// touchMarkers writes round n into the markers' annotation, creating the
// Service the first time, and returns the kinds it changed: a Node only if
// there is one to annotate. On a Node, an annotation is no change the
// controller acts on (nodeChangeMatters).
func (h *harness) touchMarkers(n int) []string {
	h.t.Helper()
	ctx, value := context.Background(), strconv.Itoa(n)
	svc := fixture.Service("marker", fixture.Namespace(barrierNamespace), fixture.Annotation(queuebarrier.Annotation, value),
		fixture.LoadBalancer(), fixture.Class("example.com/barrier"))
	if _, err := h.client.CoreV1().Services(barrierNamespace).Update(ctx, svc, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		if _, err := h.client.CoreV1().Services(barrierNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	} else if err != nil {
		h.t.Fatal(err)
	}
	kinds := []string{"Service"}
	list, err := h.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(list.Items) == 0 {
		return kinds
	}
	name := list.Items[0].Name
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := h.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if node.Annotations == nil {
			node.Annotations = map[string]string{}
		}
		node.Annotations[queuebarrier.Annotation] = value
		_, err = h.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		h.t.Fatalf("annotate the marker node %s: %v", name, err)
	}
	return append(kinds, "Node")
}

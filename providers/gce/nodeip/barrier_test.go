package nodeip

import (
	"context"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/queuebarrier"
)

// The barrier (test/queuebarrier): a test that asserts that something did
// NOT happen (no write, no publication) first proves that the controller
// has finished with everything the test did: its queues idle, then a
// marker of each watched kind through the controller's own handlers, with
// no queue operation in between. This file holds what is the nodeip
// controller's own: its queues' backoffs and its markers.
//
// What it cannot see here: besides what the package says, work the
// controller starts outside its queues is the resync ticker, an hour in
// these tests.

// barrierNamespace holds the marker Service and EndpointSlice: a Service
// of another load-balancer class without node ports and a slice of no
// Service, which the controller's handlers look at and enqueue nothing for.
const barrierNamespace = "barrier"

// observe returns the informers to pass to New, with their handlers
// observed, for a new controller.
func (h *harness) observe(services coreinformers.ServiceInformer, nodes coreinformers.NodeInformer, slices discoveryinformers.EndpointSliceInformer) (
	coreinformers.ServiceInformer, coreinformers.NodeInformer, discoveryinformers.EndpointSliceInformer) {
	if h.barrier == nil {
		h.barrier = queuebarrier.New()
	}
	h.barrier.Observe()
	return h.barrier.Services(services), h.barrier.Nodes(nodes), h.barrier.EndpointSlices(slices)
}

// trackQueues wraps the queues of a controller that has not started.
func (h *harness) trackQueues(c *Controller) {
	// The status queue's limiter is client-go's default controller limiter,
	// at least 5 ms doubling per failure up to 1000 s
	// (util/workqueue/default_rate_limiters.go).
	c.statusQueue = queuebarrier.Track(h.barrier, "status", c.statusQueue, 5*time.Millisecond, 1000*time.Second)
	c.firewallQueue = queuebarrier.Track(h.barrier, "firewall", c.firewallQueue, firewallRetryMin, firewallRetryMax)
}

// processed returns once the controller has handled every change made so
// far and finished the work they caused.
func (h *harness) processed() {
	h.t.Helper()
	h.barrier.Processed(h.t, false, h.touchMarkers)
}

// processedButRetries is processed, but for the retries of failed syncs:
// for a failure that lasts (a rule of another owner in the way), the
// controller retries with a backoff for as long as it lasts.
func (h *harness) processedButRetries() {
	h.t.Helper()
	h.barrier.Processed(h.t, true, h.touchMarkers)
}

func (h *harness) markerNode() string {
	list, err := h.client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		return ""
	}
	return list.Items[0].Name
}

// touchMarkers writes round n into the markers' annotation, creating the
// Service and the EndpointSlice the first time, and returns the kinds it
// changed: a Node only if there is one to annotate. On a Node, an
// annotation is no change the controller acts on (nodeChanged).
func (h *harness) touchMarkers(n int) []string {
	h.t.Helper()
	ctx, value := context.Background(), strconv.Itoa(n)
	svc := fixture.Service("marker", fixture.Namespace(barrierNamespace), fixture.Annotation(queuebarrier.Annotation, value),
		fixture.LoadBalancer(), fixture.Class("example.com/barrier"))
	if _, err := h.client.CoreV1().Services(barrierNamespace).Update(ctx, svc, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = h.client.CoreV1().Services(barrierNamespace).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
	} else if err != nil {
		h.t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: barrierNamespace, Name: "marker", Annotations: map[string]string{queuebarrier.Annotation: value}},
		AddressType: discoveryv1.AddressTypeIPv4}
	if _, err := h.client.DiscoveryV1().EndpointSlices(barrierNamespace).Update(ctx, slice, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = h.client.DiscoveryV1().EndpointSlices(barrierNamespace).Create(ctx, slice, metav1.CreateOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
	} else if err != nil {
		h.t.Fatal(err)
	}
	kinds := []string{"Service", "EndpointSlice"}
	if name := h.markerNode(); name != "" {
		h.updateNode(name, func(node *v1.Node) {
			if node.Annotations == nil {
				node.Annotations = map[string]string{}
			}
			node.Annotations[queuebarrier.Annotation] = value
		})
		kinds = append(kinds, "Node")
	}
	return kinds
}

package servicecontroller

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"errors"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
)

// A Service switched from external to nodeip mode while its external
// load balancer is still being built: the ensure in flight finishes, the
// next sync of the same Service releases what it built, and the nodeip
// controller, which took over at once, never loses its firewall rule. The
// release is made once, in dependency order, so no delete is refused as
// "in use" and none is made twice.
func TestASwitchToNodeIPDuringAnEnsureLeavesNoExternalResourceAndKeepsTheNodeIPRule(t *testing.T) {
	gate := holdFirst(func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/forwardingRules")
	})
	node := newNode("node-1", func(n *v1.Node) {
		n.Status.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.128.0.2"}}
	})
	h := startHarnessWith(t, harnessOptions{gate: gate}, 0, node, newService("web"))
	addInstance(t, h.cloud, "node-1")
	h.startNodeIP()

	gate.waitHeld(t) // the external load balancer's forwarding rule is being inserted
	svc, err := h.service("web")
	if err != nil {
		t.Fatal(err)
	}
	svc.Annotations = map[string]string{annotations.Mode: annotations.ModeNodeIP}
	if _, err := h.client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	base := ownership.ForCluster("test").LoadBalancerBase(string(svc.UID))
	h.eventually("the nodeip controller opens its rule while the ensure is held", func() string {
		if _, err := h.cloud.Compute.Firewalls.Get(h.cloud.Project, base+"-nip").Do(); err != nil {
			return err.Error()
		}
		return ""
	})
	gate.release()

	h.eventually("the external load balancer is released and the node published", func() string {
		if left := h.externalResources(base); len(left) > 0 {
			return fmt.Sprintf("left: %v", left)
		}
		s, err := h.service("web")
		if err != nil {
			return err.Error()
		}
		if in := s.Status.LoadBalancer.Ingress; len(in) != 1 || in[0].IP != "10.128.0.2" {
			return fmt.Sprintf("ingress %v, want the node's address", in)
		}
		return ""
	})
	h.processed()
	if _, err := h.cloud.Compute.Firewalls.Get(h.cloud.Project, base+"-nip").Do(); err != nil {
		t.Errorf("the nodeip rule after convergence: %v", err)
	}
	deletes := map[string]int{}
	for _, c := range h.cloud.Server.Calls() {
		if c.Status >= 400 && c.Status != http.StatusNotFound {
			t.Errorf("%s %s answered %d", c.Method, c.Path, c.Status)
		}
		if c.Method == http.MethodDelete {
			deletes[c.Path]++
		}
	}
	for path, n := range deletes {
		if strings.Contains(path, "/firewalls/"+base+"-nip") {
			t.Errorf("the nodeip rule was deleted %d times (%s)", n, path)
		} else if n > 1 {
			t.Errorf("%s was deleted %d times, want once", path, n)
		}
	}
	if n := h.events("SyncLoadBalancerFailed"); n > 0 {
		t.Errorf("%d failed syncs, want none", n)
	}
}

// startNodeIP runs the nodeip controller beside the service controller, on
// the same provider, as the controller manager does.
func (h *harness) startNodeIP() {
	h.t.Helper()
	factory := informers.NewSharedInformerFactory(h.client, 0)
	ctrl, err := nodeip.New(h.client, factory.Core().V1().Services(), factory.Core().V1().Nodes(),
		factory.Discovery().V1().EndpointSlices(), h.provider.NodeIPDeps("test"), nodeip.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); ctrl.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); <-done; factory.Shutdown() })
}

// externalResources are the external mode's resources of the Service with
// this base name that exist.
func (h *harness) externalResources(base string) []string {
	h.t.Helper()
	c, project, region := h.cloud.Compute, h.cloud.Project, "us-central1"
	var left []string
	filter := fmt.Sprintf("name eq %s.*", base)
	if l, err := c.ForwardingRules.List(project, region).Filter(filter).Do(); err != nil || len(l.Items) > 0 {
		left = append(left, fmt.Sprintf("forwarding rules %d (%v)", len(itemsOf(l)), err))
	}
	if _, err := c.RegionBackendServices.Get(project, region, base).Do(); !isNotFound(err) {
		left = append(left, fmt.Sprintf("backend service (%v)", err))
	}
	if _, err := c.RegionHealthChecks.Get(project, region, base).Do(); !isNotFound(err) {
		left = append(left, fmt.Sprintf("health check (%v)", err))
	}
	if _, err := c.Addresses.Get(project, region, base).Do(); !isNotFound(err) {
		left = append(left, fmt.Sprintf("address (%v)", err))
	}
	for _, name := range []string{base + "-fw", base + "-hc"} {
		if _, err := c.Firewalls.Get(project, name).Do(); !isNotFound(err) {
			left = append(left, fmt.Sprintf("firewall %s (%v)", name, err))
		}
	}
	return left
}

func itemsOf(l *compute.ForwardingRuleList) []*compute.ForwardingRule {
	if l == nil {
		return nil
	}
	return l.Items
}

func isNotFound(err error) bool {
	var ae *googleapi.Error
	return errors.As(err, &ae) && ae.Code == http.StatusNotFound
}

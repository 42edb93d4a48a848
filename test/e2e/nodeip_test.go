package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func ingressIPs(name string) []string {
	svc, err := getService(name)
	if err != nil {
		return nil
	}
	var ips []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IPMode == nil || *in.IPMode != v1.LoadBalancerIPModeVIP {
			return nil
		}
		ips = append(ips, in.IP)
	}
	slices.Sort(ips)
	return ips
}

func internalIP(t *testing.T, zone, name string) string {
	t.Helper()
	inst, err := s.cloud.Compute.Instances.Get(s.cloud.Project, zone, name).Do()
	if err != nil {
		t.Fatal(err)
	}
	return inst.NetworkInterfaces[0].NetworkIP
}

func TestNodeIPModePublishesReadyNodes(t *testing.T) {
	ccm := startCCM(t, "ccm-nodeip")
	startNode(t, "us-central1-a", "node-21")
	k22 := startNode(t, "us-central1-b", "node-22")
	eventually(t, convergeWithin, "nodes initialised", func() (bool, error) {
		a, _ := initialised("node-21")()
		b, _ := initialised("node-22")()
		return a && b, nil
	})
	ip21, ip22 := internalIP(t, "us-central1-a", "node-21"), internalIP(t, "us-central1-b", "node-22")
	svc := createService(t, "edge", map[string]string{"cloud-provider-vpc.io/load-balancer-mode": "nodeip"}, 8080)
	both := []string{ip21, ip22}
	slices.Sort(both)
	eventually(t, convergeWithin, "both nodes' internal IPs published", func() (bool, error) {
		return slices.Equal(ingressIPs("edge"), both), nil
	})
	rule := ownership.NodeIPFirewallName(ownership.ForCluster("e2e").LoadBalancerBase(string(svc.UID)))
	eventually(t, convergeWithin, "the firewall rule admits both nodes", func() (bool, error) {
		fw, err := s.cloud.Compute.Firewalls.Get(s.cloud.Project, rule).Do()
		return err == nil && len(fw.DestinationRanges) == 2 && fw.Allowed[0].Ports[0] == "8080", err
	})
	// node-22 stops: its address leaves the list and the rule.
	if err := k22.Stop(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "only node-21 published", func() (bool, error) {
		return slices.Equal(ingressIPs("edge"), []string{ip21}), nil
	})
	eventually(t, convergeWithin, "the rule follows", func() (bool, error) {
		fw, err := s.cloud.Compute.Firewalls.Get(s.cloud.Project, rule).Do()
		return err == nil && slices.Equal(fw.DestinationRanges, []string{ip21 + "/32"}), err
	})
	// A Service asking for SSH's port is refused.
	createService(t, "ssh", map[string]string{"cloud-provider-vpc.io/load-balancer-mode": "nodeip"}, 22)
	eventually(t, convergeWithin, "a reserved port is refused with a condition", func() (bool, error) {
		svc, err := getService("ssh")
		if err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(svc.Status.Conditions, lbcondition.Type)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "22") && len(svc.Status.LoadBalancer.Ingress) == 0, nil
	})
	// Deleting the Service removes its rule.
	if err := s.cp.Admin.CoreV1().Services("default").Delete(context.Background(), "edge", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the Service and its rule are gone", func() (bool, error) {
		_, err := getService("edge")
		_, fwErr := s.cloud.Compute.Firewalls.Get(s.cloud.Project, rule).Do()
		return apierrors.IsNotFound(err) && isNotFound(fwErr), nil
	})
	noForbiddenCalls(t, ccm)
}

func TestANodeIPClassServiceIsCleanedUpThroughItsFinalizer(t *testing.T) {
	ccm := startCCM(t, "ccm-nodeip-class")
	startNode(t, "us-central1-c", "node-23")
	eventually(t, convergeWithin, "node-23 initialised", initialised("node-23"))
	svc := fixture.Service("classy", fixture.LoadBalancer(), fixture.Class("cloud-provider-vpc.io/nodeip"),
		fixture.Selector(map[string]string{"app": "classy"}), fixture.NamedPort("http", v1.ProtocolTCP, 8443))
	created, err := s.cp.Admin.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the class Service is published with a finalizer", func() (bool, error) {
		got, err := getService("classy")
		return err == nil && len(got.Status.LoadBalancer.Ingress) > 0 && len(got.Finalizers) > 0, err
	})
	rule := ownership.NodeIPFirewallName(ownership.ForCluster("e2e").LoadBalancerBase(string(created.UID)))
	if _, err := s.cloud.Compute.Firewalls.Get(s.cloud.Project, rule).Do(); err != nil {
		t.Fatalf("firewall rule %s: %v", rule, err)
	}
	gone := watchDeletion(t, "classy")
	if err := s.cp.Admin.CoreV1().Services("default").Delete(context.Background(), "classy", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var deletedAt time.Time
	eventually(t, convergeWithin, "the Service goes", func() (bool, error) {
		select {
		case deletedAt = <-gone:
			return true, nil
		default:
			return false, nil
		}
	})
	if _, err := s.cloud.Compute.Firewalls.Get(s.cloud.Project, rule).Do(); !isNotFound(err) {
		t.Fatalf("the rule %s outlived the Service: %v", rule, err)
	}
	// The rule is gone when its delete operation is DONE, not when the
	// delete is asked for: fake-gce, like the API, answers a delete with a
	// RUNNING operation and removes the rule later (20 ms by default), and
	// stamps endTime then. The Service is gone when the API server sends
	// DELETED, after the last finalizer went. endTime is cut to the
	// millisecond and DELETED is seen a little after it happened; both
	// favour a pass, by less than the operation's latency, which is what
	// separates a finalizer removed after the operation from one removed
	// when the delete was merely asked for.
	ended := deleteOperationEnd(t, rule)
	if !ended.Before(deletedAt) {
		t.Errorf("the Service went at %s, before its rule %s was deleted at %s", deletedAt.Format(time.StampMicro), rule, ended.Format(time.StampMicro))
	}
	noForbiddenCalls(t, ccm)
}

// watchDeletion watches the Service from now on and sends the time its
// DELETED event arrives.
func watchDeletion(t *testing.T, name string) <-chan time.Time {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	svc, err := getService(name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.cp.Admin.CoreV1().Services("default").Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + name, ResourceVersion: svc.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan time.Time, 1)
	go func() {
		defer w.Stop()
		for e := range w.ResultChan() {
			if e.Type == watch.Deleted {
				out <- time.Now()
				return
			}
		}
	}()
	return out
}

// deleteOperationEnd is the endTime of the operation that deleted the
// firewall rule.
func deleteOperationEnd(t *testing.T, rule string) time.Time {
	t.Helper()
	ops, err := s.cloud.Compute.GlobalOperations.List(s.cloud.Project).Filter(`operationType = "delete"`).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops.Items {
		if strings.HasSuffix(op.TargetLink, "/global/firewalls/"+rule) && op.Status == "DONE" {
			end, err := time.Parse(time.RFC3339Nano, op.EndTime)
			if err != nil {
				t.Fatalf("operation %s: endTime %q: %v", op.Name, op.EndTime, err)
			}
			return end
		}
	}
	t.Fatalf("no DONE delete operation for firewall rule %s", rule)
	return time.Time{}
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

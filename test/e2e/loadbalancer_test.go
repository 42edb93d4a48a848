package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func createService(t *testing.T, name string, annotations map[string]string, ports ...int32) *v1.Service {
	t.Helper()
	opts := []fixture.ServiceOption{fixture.LoadBalancer(), fixture.Selector(map[string]string{"app": name})}
	for k, v := range annotations {
		opts = append(opts, fixture.Annotation(k, v))
	}
	for _, p := range ports {
		opts = append(opts, fixture.NamedPort(fmt.Sprintf("p%d", p), v1.ProtocolTCP, p))
	}
	svc := fixture.Service(name, opts...)
	created, err := s.cp.Admin.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cp.Admin.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return created
}

func getService(name string) (*v1.Service, error) {
	return s.cp.Admin.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
}

// deleteServiceAndWaitForItsResources deletes a Service and waits until it
// and every cloud resource named after base are gone.
func deleteServiceAndWaitForItsResources(t *testing.T, name, base string) {
	t.Helper()
	if err := s.cp.Admin.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the Service and its cloud resources are gone", func() (bool, error) {
		_, err := getService(name)
		for _, r := range clusterResources(t) {
			if strings.Contains(r, base) {
				return false, fmt.Errorf("%s is still there", r)
			}
		}
		return apierrors.IsNotFound(err), err
	})
}

// clusterResources lists the e2e cluster's load balancer resources in fake-gce.
func clusterResources(t *testing.T) []string {
	t.Helper()
	prefix := ownership.ForCluster("e2e").Prefix()
	var out []string
	p, r := s.cloud.Project, "us-central1"
	frs, err := s.cloud.Compute.ForwardingRules.List(p, r).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range frs.Items {
		out = append(out, "forwardingRule/"+x.Name)
	}
	tps, _ := s.cloud.Compute.TargetPools.List(p, r).Do()
	for _, x := range tps.Items {
		out = append(out, "targetPool/"+x.Name)
	}
	as, _ := s.cloud.Compute.Addresses.List(p, r).Do()
	for _, x := range as.Items {
		out = append(out, "address/"+x.Name)
	}
	fws, _ := s.cloud.Compute.Firewalls.List(p).Do()
	for _, x := range fws.Items {
		out = append(out, "firewall/"+x.Name)
	}
	hcs, _ := s.cloud.Compute.HttpHealthChecks.List(p).Do()
	for _, x := range hcs.Items {
		out = append(out, "httpHealthCheck/"+x.Name)
	}
	bss, _ := s.cloud.Compute.RegionBackendServices.List(p, r).Do()
	for _, x := range bss.Items {
		out = append(out, "backendService/"+x.Name)
	}
	rhcs, _ := s.cloud.Compute.RegionHealthChecks.List(p, r).Do()
	for _, x := range rhcs.Items {
		out = append(out, "healthCheck/"+x.Name)
	}
	igs, _ := s.cloud.Compute.InstanceGroups.AggregatedList(p).Do()
	if igs != nil {
		for _, scoped := range igs.Items {
			for _, x := range scoped.InstanceGroups {
				out = append(out, "instanceGroup/"+x.Name)
			}
		}
	}
	var ours []string
	for _, name := range out {
		if strings.Contains(name, "/"+prefix) {
			ours = append(ours, name)
		}
	}
	return ours
}

func TestExternalLoadBalancerLifecycle(t *testing.T) {
	ccm := startCCM(t, "ccm-lb")
	startNode(t, "us-central1-a", "node-11")
	startNode(t, "us-central1-b", "node-12")
	eventually(t, convergeWithin, "nodes initialised", func() (bool, error) {
		a, _ := initialised("node-11")()
		b, _ := initialised("node-12")()
		return a && b, nil
	})
	web := createService(t, "web", nil, 80, 443)
	base := ownership.NodeIPFirewallName(ownership.ForCluster("e2e").LoadBalancerBase(string(web.UID)))
	base = strings.TrimSuffix(base, "-nip")
	var ip string
	eventually(t, convergeWithin, "the Service gets an external IP", func() (bool, error) {
		svc, err := getService("web")
		if err != nil || len(svc.Status.LoadBalancer.Ingress) == 0 {
			return false, err
		}
		in := svc.Status.LoadBalancer.Ingress[0]
		ip = in.IP
		return in.IPMode != nil && *in.IPMode == v1.LoadBalancerIPModeVIP, nil
	})
	// The default backend: a backend service on the shared instance groups.
	frs, err := s.cloud.Compute.ForwardingRules.List(s.cloud.Project, "us-central1").Filter("IPAddress = \"" + ip + "\"").Do()
	if err != nil || len(frs.Items) != 1 || strings.Join(frs.Items[0].Ports, ",") != "80,443" || frs.Items[0].BackendService == "" {
		t.Fatalf("forwarding rules on %s: %+v, %v", ip, frs, err)
	}
	bs, err := s.cloud.Compute.RegionBackendServices.Get(s.cloud.Project, "us-central1", lastSegment(frs.Items[0].BackendService)).Do()
	if err != nil || len(bs.Backends) < 2 {
		t.Errorf("backend service: %+v, %v; want a group in each of the nodes' zones", bs, err)
	}
	eventually(t, convergeWithin, "the LoadBalancerReady condition is True", func() (bool, error) {
		svc, err := getService("web")
		return err == nil && meta.IsStatusConditionTrue(svc.Status.Conditions, lbcondition.Type), err
	})

	// A node joins a zone the load balancer already uses: the shared group
	// of that zone gains it, and the backend service keeps its backends.
	startNode(t, "us-central1-a", "node-13")
	group := ownership.ForCluster("e2e").InstanceGroupName("us-central1-a")
	eventually(t, convergeWithin, "node-13 joins the zone's shared instance group", func() (bool, error) {
		members, err := s.cloud.Compute.InstanceGroups.ListInstances(s.cloud.Project, "us-central1-a", group, &compute.InstanceGroupsListInstancesRequest{}).Do()
		if err != nil {
			return false, err
		}
		for _, m := range members.Items {
			if strings.HasSuffix(m.Instance, "/node-13") {
				return true, nil
			}
		}
		return false, nil
	})
	if after, err := s.cloud.Compute.RegionBackendServices.Get(s.cloud.Project, "us-central1", bs.Name).Do(); err != nil || len(after.Backends) != len(bs.Backends) {
		t.Errorf("backend service after the node joined: %+v, %v; want its %d backends unchanged", after, err, len(bs.Backends))
	}

	deleteServiceAndWaitForItsResources(t, "web", base)
	noForbiddenCalls(t, ccm)
}

func TestABadAnnotationIsReportedOnTheService(t *testing.T) {
	ccm := startCCM(t, "ccm-lb-bad")
	startNode(t, "us-central1-a", "node-13")
	eventually(t, convergeWithin, "node-13 initialised", initialised("node-13"))
	createService(t, "bad", map[string]string{"cloud.google.com/network-tier": "Gold"}, 80)
	eventually(t, convergeWithin, "a LoadBalancerReady=False condition naming the annotation", func() (bool, error) {
		svc, err := getService("bad")
		if err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(svc.Status.Conditions, lbcondition.Type)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "cloud.google.com/network-tier"), nil
	})
	eventually(t, convergeWithin, "a Warning event", func() (bool, error) {
		evs, err := s.cp.Admin.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=bad"})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Type == v1.EventTypeWarning && strings.Contains(e.Message, "network-tier") {
				return true, nil
			}
		}
		return false, nil
	})
	// Fixing the annotation clears the condition.
	svc, _ := getService("bad")
	svc.Annotations["cloud.google.com/network-tier"] = "Standard"
	if _, err := s.cp.Admin.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "LoadBalancerReady=True after the fix", func() (bool, error) {
		svc, err := getService("bad")
		return err == nil && meta.IsStatusConditionTrue(svc.Status.Conditions, lbcondition.Type), err
	})
	noForbiddenCalls(t, ccm)
}

func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

func TestAnInternalLoadBalancerTakesItsAddressFromTheNetworksOnlySubnetwork(t *testing.T) {
	// The cloud config names no subnetwork; the network has one in the
	// region, "nodes", which the CCM finds.
	ccm := startCCM(t, "ccm-lb-internal")
	startNode(t, "us-central1-c", "node-31")
	eventually(t, convergeWithin, "node-31 initialised", initialised("node-31"))
	api := createService(t, "api", map[string]string{"networking.gke.io/load-balancer-type": "Internal"}, 8443)
	base := strings.TrimSuffix(ownership.NodeIPFirewallName(ownership.ForCluster("e2e").LoadBalancerBase(string(api.UID))), "-nip")
	var ip string
	eventually(t, convergeWithin, "the Service gets an internal IP", func() (bool, error) {
		svc, err := getService("api")
		if err != nil || len(svc.Status.LoadBalancer.Ingress) == 0 {
			return false, err
		}
		ip = svc.Status.LoadBalancer.Ingress[0].IP
		return true, nil
	})
	if !netip.MustParsePrefix("10.0.0.0/20").Contains(netip.MustParseAddr(ip)) {
		t.Errorf("internal IP %s is not from the subnetwork nodes (10.0.0.0/20)", ip)
	}
	frs, err := s.cloud.Compute.ForwardingRules.List(s.cloud.Project, "us-central1").Filter("IPAddress = \"" + ip + "\"").Do()
	if err != nil || len(frs.Items) != 1 || frs.Items[0].LoadBalancingScheme != "INTERNAL" ||
		lastSegment(frs.Items[0].Subnetwork) != cluster.SubnetworkName {
		t.Fatalf("forwarding rules on %s: %+v, %v; want one INTERNAL rule in %s", ip, frs, err, cluster.SubnetworkName)
	}
	deleteServiceAndWaitForItsResources(t, "api", base)
	noForbiddenCalls(t, ccm)
}

// resetCloudCalls forgets the compute requests fake-gce has served.
func resetCloudCalls(t *testing.T) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, "http://"+s.cloud.Host+"/admin/v1/calls", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// setCloudFaults replaces fake-gce's fault rules (a JSON array of
// fakegce.FaultRule); the test's end clears them.
func setCloudFaults(t *testing.T, rules string) {
	t.Helper()
	put := func(rules string) error {
		req, _ := http.NewRequest(http.MethodPut, "http://"+s.cloud.Host+"/admin/v1/faults", strings.NewReader(rules))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("PUT /admin/v1/faults: %s", resp.Status)
		}
		return nil
	}
	if err := put(rules); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { put(`[]`) })
}

// cloudWrites lists the mutating compute requests fake-gce has served since
// the last reset (operation polls and reads sent as POST aside).
func cloudWrites(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get("http://" + s.cloud.Host + "/admin/v1/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var log struct {
		Calls []struct{ Method, Path, API string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range log.Calls {
		if c.Method == http.MethodGet || strings.Contains(c.API, "Operations.") || strings.HasSuffix(c.API, ".listInstances") || strings.HasSuffix(c.API, ".getHealth") {
			continue
		}
		out = append(out, c.Method+" "+c.Path)
	}
	return out
}

// eventCount is how many times the Service got events of a reason.
func eventCount(t *testing.T, service, reason string) int32 {
	t.Helper()
	evs, err := s.cp.Admin.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + service + ",reason=" + reason})
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	for _, e := range evs.Items {
		n += max(e.Count, 1)
	}
	return n
}

func setExcluded(t *testing.T, node string, excluded bool) {
	t.Helper()
	value := "null"
	if excluded {
		value = `"true"`
	}
	patch := []byte(`{"metadata":{"labels":{"` + v1.LabelNodeExcludeBalancers + `":` + value + `}}}`)
	if _, err := s.cp.Admin.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestALoadBalancerWhoseNodesAreAllExcludedHasNoBackendsUntilTheyReturn(t *testing.T) {
	ccm := startCCM(t, "ccm-lb-exclude")
	nodes := map[string]string{"node-51": "us-central1-a", "node-52": "us-central1-b"}
	for name, zone := range nodes {
		startNode(t, zone, name)
	}
	eventually(t, convergeWithin, "nodes initialised", func() (bool, error) {
		a, _ := initialised("node-51")()
		b, _ := initialised("node-52")()
		return a && b, nil
	})
	svc := createService(t, "drained", nil, 80)
	base := strings.TrimSuffix(ownership.NodeIPFirewallName(ownership.ForCluster("e2e").LoadBalancerBase(string(svc.UID))), "-nip")
	eventually(t, convergeWithin, "the Service gets an external IP", func() (bool, error) {
		svc, err := getService("drained")
		return err == nil && len(svc.Status.LoadBalancer.Ingress) > 0, err
	})
	// served reports whether the backend service has a backend in every
	// zone of the nodes and each zone's group holds its node, or (serving
	// false) has no backend and no group holds either node.
	served := func(want bool) func() (bool, error) {
		return func() (bool, error) {
			bs, err := s.cloud.Compute.RegionBackendServices.Get(s.cloud.Project, "us-central1", base).Do()
			if err != nil {
				return false, err
			}
			if want != (len(bs.Backends) == len(nodes)) || !want && len(bs.Backends) != 0 {
				return false, fmt.Errorf("the backend service has %d backends", len(bs.Backends))
			}
			for name, zone := range nodes {
				group := ownership.ForCluster("e2e").InstanceGroupName(zone)
				members, err := s.cloud.Compute.InstanceGroups.ListInstances(s.cloud.Project, zone, group, &compute.InstanceGroupsListInstancesRequest{}).Do()
				if err != nil {
					return false, err
				}
				member := false
				for _, m := range members.Items {
					member = member || strings.HasSuffix(m.Instance, "/"+name)
				}
				if member != want {
					return false, fmt.Errorf("%s in group %s: %v", name, group, member)
				}
			}
			return true, nil
		}
	}
	eventually(t, convergeWithin, "a backend per zone, each group holding its node", served(true))

	for name := range nodes {
		setExcluded(t, name, true)
	}
	eventually(t, convergeWithin, "every node excluded: no backend, no node in the groups", served(false))
	for name := range nodes {
		setExcluded(t, name, false)
	}
	eventually(t, convergeWithin, "the nodes included again: the backends are restored", served(true))

	// A new leader re-ensures the Service from nothing it remembers: reads
	// only.
	ccm.Stop()
	ensured := eventCount(t, "drained", "EnsuredLoadBalancer")
	resetCloudCalls(t)
	next := startCCM(t, "ccm-lb-exclude-next")
	eventually(t, convergeWithin, "the new leader ensured the Service", func() (bool, error) {
		return eventCount(t, "drained", "EnsuredLoadBalancer") > ensured, nil
	})
	if writes := cloudWrites(t); len(writes) != 0 {
		t.Errorf("a no-change resync wrote %v, want nothing", writes)
	}
	deleteServiceAndWaitForItsResources(t, "drained", base)
	noForbiddenCalls(t, ccm, next)
}

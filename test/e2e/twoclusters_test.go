package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// aCluster is one of two clusters in the suite's fake-gce project: its own
// control plane, the CCM's credentials and cloud config from deploy/, its
// own --cluster-name, network tag and pod range, and the CCM running for it
// (nil while stopped). Its CCM programs routes as well as load balancers.
type aCluster struct {
	name        string
	cp          *cluster.ControlPlane
	ccmConfig   string
	cloudConfig string
	nodeTag     string
	clusterCIDR string
	ccm         *cluster.CCM
	ccms        []*cluster.CCM // every one started, for noForbiddenCalls
	starts      int
}

func (c *aCluster) owner() ownership.Cluster { return ownership.ForCluster(c.name) }

// startSecondCluster starts etcd and kube-apiserver of a second cluster
// beside the suite's, applies deploy/overlays/fake-gce to it, and gives its
// CCM the suite's cloud config with the cluster's own node tag. Both
// clusters' CCMs then share one project, network and region in fake-gce.
func startSecondCluster(t *testing.T, name, nodeTag, clusterCIDR string) *aCluster {
	t.Helper()
	ctx := context.Background()
	cp := startOwnControlPlane(t, "cluster-"+name)
	if err := cp.Apply(ctx, s.rendered); err != nil {
		t.Fatal(err)
	}
	token, err := cp.ServiceAccountToken(ctx, "kube-system", "cloud-controller-manager")
	if err != nil {
		t.Fatal(err)
	}
	c := &aCluster{name: name, cp: cp, nodeTag: nodeTag, clusterCIDR: clusterCIDR,
		ccmConfig: filepath.Join(cp.Dir, "ccm.kubeconfig"), cloudConfig: filepath.Join(cp.Dir, "gce.conf")}
	if err := cp.WriteKubeconfig(c.ccmConfig, "cloud-controller-manager", token); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(s.cloudConfig)
	if err != nil {
		t.Fatal(err)
	}
	ownTag := strings.Replace(string(conf), "node-tags = "+cluster.NodeTag+"\n", "node-tags = "+nodeTag+"\n", 1)
	if ownTag == string(conf) {
		t.Fatalf("the suite's cloud config sets no node-tags = %s:\n%s", cluster.NodeTag, conf)
	}
	if err := os.WriteFile(c.cloudConfig, []byte(ownTag), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// startCCM starts the cluster's CCM, routes included; each start is a new
// process, whose firewall garbage collection runs once it leads.
func (c *aCluster) startCCM(t *testing.T) {
	t.Helper()
	c.starts++
	ccm, err := cluster.StartCCM(context.Background(), s.dir, filepath.Join(s.bin, "vpc-cloud-controller-manager"),
		fmt.Sprintf("ccm-%s-%d", c.name, c.starts), c.ccmConfig, c.cloudConfig, c.name,
		"--configure-cloud-routes=true", "--allocate-node-cidrs=true", "--cluster-cidr="+c.clusterCIDR,
		"--route-reconciliation-period=2s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ccm.Stop)
	c.ccm = ccm
	c.ccms = append(c.ccms, ccm)
}

func (c *aCluster) stopCCM() {
	c.ccm.Stop()
	c.ccm = nil
}

// startNode creates the node's instance with the cluster's tag, registers
// its kubelet, and gives it podCIDR, as the node IPAM controller would.
func (c *aCluster) startNode(t *testing.T, zone, name, podCIDR string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.cloud.EnsureTaggedInstance(ctx, zone, name, c.nodeTag); err != nil {
		t.Fatal(err)
	}
	k, err := c.cp.StartKubelet(ctx, name, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Stop(context.Background(), false)
		c.cp.Admin.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	patch := fmt.Sprintf(`{"spec":{"podCIDR":%q,"podCIDRs":[%q]}}`, podCIDR, podCIDR)
	if _, err := c.cp.Admin.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("set the pod CIDR of node %s: %v", name, err)
	}
}

// waitForNode waits until the cluster's CCM initialised the node, put it in
// the cluster's instance group of its zone, and routed its pod CIDR to it.
func (c *aCluster) waitForNode(t *testing.T, zone, name, podCIDR string) {
	t.Helper()
	eventually(t, convergeWithin, c.name+": "+name+" initialised", func() (bool, error) {
		n, err := c.cp.Admin.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return n.Spec.ProviderID != "" && !hasTaint(n, cluster.UninitializedTaint), nil
	})
	eventually(t, convergeWithin, c.name+": a route sends "+podCIDR+" to "+name, func() (bool, error) {
		routes, err := s.cloud.Compute.Routes.List(s.cloud.Project).Filter(c.owner().NamePattern()).Do()
		if err != nil {
			return false, err
		}
		for _, r := range routes.Items {
			if r.DestRange == podCIDR && strings.HasSuffix(r.NextHopInstance, "/"+name) {
				return true, nil
			}
		}
		return false, nil
	})
}

// waitForGroupMember waits until the cluster's shared instance group of the
// zone holds the node (a load balancer of the cluster must exist).
func (c *aCluster) waitForGroupMember(t *testing.T, zone, name string) {
	t.Helper()
	group := c.owner().InstanceGroupName(zone)
	eventually(t, convergeWithin, c.name+": "+name+" in the instance group "+group, func() (bool, error) {
		members, err := s.cloud.Compute.InstanceGroups.ListInstances(s.cloud.Project, zone, group, &compute.InstanceGroupsListInstancesRequest{}).Do()
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(members.Items, func(m *compute.InstanceWithNamedPorts) bool {
			return strings.HasSuffix(m.Instance, "/"+name)
		}), nil
	})
}

// createLoadBalancer creates a LoadBalancer Service in the cluster and waits
// for its external address; it returns the base of its resources' names.
func (c *aCluster) createLoadBalancer(t *testing.T, name string, port int32) string {
	t.Helper()
	svc := fixture.Service(name, fixture.LoadBalancer(), fixture.Selector(map[string]string{"app": name}),
		fixture.NamedPort("p", v1.ProtocolTCP, port))
	created, err := c.cp.Admin.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, c.name+": Service "+name+" gets an external IP", func() (bool, error) {
		got, err := c.cp.Admin.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && len(got.Status.LoadBalancer.Ingress) > 0, err
	})
	return c.owner().LoadBalancerBase(string(created.UID))
}

// deleteLoadBalancer deletes the Service and waits until it and every cloud
// resource named after base are gone.
func (c *aCluster) deleteLoadBalancer(t *testing.T, name, base string) {
	t.Helper()
	if err := c.cp.Admin.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, c.name+": Service "+name+" and its cloud resources are gone", func() (bool, error) {
		_, err := c.cp.Admin.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
		for key := range ownedState(t, c.owner()) {
			if strings.Contains(key, base) {
				return false, fmt.Errorf("%s is still there", key)
			}
		}
		return apierrors.IsNotFound(err), err
	})
}

// collectGarbageOnce leaves a firewall rule of the cluster for a Service
// that does not exist, as a Service deleted while no CCM ran does, restarts
// the CCM (its garbage collector runs at start) and waits until the rule is
// gone: proof that the collector ran.
func (c *aCluster) collectGarbageOnce(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	owner := c.owner()
	name := owner.ResourceName("fw", "deleted-while-no-ccm-ran")
	op, err := s.cloud.Compute.Firewalls.Insert(s.cloud.Project, &compute.Firewall{
		Name: name, Network: "global/networks/" + cluster.NetworkName, Direction: "INGRESS",
		Allowed:      []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"9999"}}},
		SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{c.nodeTag},
		Description: owner.Description(map[string]string{ownership.ServiceUIDKey: "00000000-0000-4000-8000-000000000000"}),
	}).Do()
	if err := s.cloud.Wait(ctx, op, err); err != nil {
		t.Fatalf("insert firewall %s: %v", name, err)
	}
	if c.ccm != nil {
		c.stopCCM()
	}
	c.startCCM(t)
	eventually(t, convergeWithin, c.name+": the garbage collector deletes firewall "+name, func() (bool, error) {
		_, err := s.cloud.Compute.Firewalls.Get(s.cloud.Project, name).Do()
		var gerr *googleapi.Error
		return errors.As(err, &gerr) && gerr.Code == http.StatusNotFound, err
	})
}

// ownedState is every resource in fake-gce whose name carries owner's
// prefix, as the API returns it (JSON), and the members of its instance
// groups: what another cluster must leave exactly as it is.
func ownedState(t *testing.T, owner ownership.Cluster) map[string]string {
	t.Helper()
	p, r := s.cloud.Project, cluster.Region
	filter := owner.NamePattern()
	state := map[string]string{}
	add := func(kind, name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		state[kind+"/"+name] = string(b)
	}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	frs, err := s.cloud.Compute.ForwardingRules.List(p, r).Filter(filter).Do()
	check(err)
	for _, x := range frs.Items {
		add("forwardingRule", x.Name, x)
	}
	as, err := s.cloud.Compute.Addresses.List(p, r).Filter(filter).Do()
	check(err)
	for _, x := range as.Items {
		add("address", x.Name, x)
	}
	tps, err := s.cloud.Compute.TargetPools.List(p, r).Filter(filter).Do()
	check(err)
	for _, x := range tps.Items {
		add("targetPool", x.Name, x)
	}
	bss, err := s.cloud.Compute.RegionBackendServices.List(p, r).Filter(filter).Do()
	check(err)
	for _, x := range bss.Items {
		add("backendService", x.Name, x)
	}
	hcs, err := s.cloud.Compute.RegionHealthChecks.List(p, r).Filter(filter).Do()
	check(err)
	for _, x := range hcs.Items {
		add("healthCheck", x.Name, x)
	}
	hhcs, err := s.cloud.Compute.HttpHealthChecks.List(p).Filter(filter).Do()
	check(err)
	for _, x := range hhcs.Items {
		add("httpHealthCheck", x.Name, x)
	}
	fws, err := s.cloud.Compute.Firewalls.List(p).Filter(filter).Do()
	check(err)
	for _, x := range fws.Items {
		add("firewall", x.Name, x)
	}
	routes, err := s.cloud.Compute.Routes.List(p).Filter(filter).Do()
	check(err)
	for _, x := range routes.Items {
		add("route", x.Name, x)
	}
	igs, err := s.cloud.Compute.InstanceGroups.AggregatedList(p).Filter(filter).Do()
	check(err)
	for _, scoped := range igs.Items {
		for _, x := range scoped.InstanceGroups {
			members, err := s.cloud.Compute.InstanceGroups.ListInstances(p, lastSegment(x.Zone), x.Name, &compute.InstanceGroupsListInstancesRequest{}).Do()
			if isNotFound(err) {
				// Deleted by its cluster's CCM between the list and this
				// read: it is not part of the state any more.
				continue
			}
			check(err)
			add("instanceGroup", x.Name, x)
			var names []string
			for _, m := range members.Items {
				names = append(names, lastSegment(m.Instance))
			}
			slices.Sort(names)
			add("instanceGroupMembers", x.Name, names)
		}
	}
	return state
}

// kinds counts the resources of ownedState by kind, for the log.
func kinds(state map[string]string) map[string]int {
	out := map[string]int{}
	for key := range state {
		kind, _, _ := strings.Cut(key, "/")
		out[kind]++
	}
	return out
}

// untouched fails the test when state differs from before.
func untouched(t *testing.T, who string, before, after map[string]string) {
	t.Helper()
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("%s's resources changed (-before +after):\n%s", who, diff)
	}
}

func TestTwoClustersInOneProjectLeaveEachOthersResourcesAlone(t *testing.T) {
	// Two clusters, each with its own control plane and --cluster-name, one
	// fake-gce project, network and region; each has nodes in
	// us-central1-a, so each has a shared instance group there.
	blue := &aCluster{name: "blue", cp: s.cp, ccmConfig: s.ccmConfig, cloudConfig: s.cloudConfig,
		nodeTag: cluster.NodeTag, clusterCIDR: "10.64.0.0/14"}
	green := startSecondCluster(t, "green", "k8s-node-green", "10.68.0.0/14")
	blue.startCCM(t)
	green.startCCM(t)
	blue.startNode(t, "us-central1-a", "node-41", "10.64.41.0/24")
	blue.startNode(t, "us-central1-b", "node-42", "10.64.42.0/24")
	green.startNode(t, "us-central1-a", "node-43", "10.68.43.0/24")
	green.startNode(t, "us-central1-b", "node-44", "10.68.44.0/24")
	blue.waitForNode(t, "us-central1-a", "node-41", "10.64.41.0/24")
	blue.waitForNode(t, "us-central1-b", "node-42", "10.64.42.0/24")
	green.waitForNode(t, "us-central1-a", "node-43", "10.68.43.0/24")
	green.waitForNode(t, "us-central1-b", "node-44", "10.68.44.0/24")

	// Each cluster has a load balancer that lives through the other's
	// lifecycle. Both are default/web: the names say nothing of the cluster.
	greenWeb := green.createLoadBalancer(t, "web", 80)
	blueKeep := blue.createLoadBalancer(t, "keep", 8080)
	green.waitForGroupMember(t, "us-central1-a", "node-43")
	blue.waitForGroupMember(t, "us-central1-a", "node-41")

	t.Run("blue's load balancer lifecycle and garbage collection leave green's resources untouched", func(t *testing.T) {
		// green's CCM is stopped, so nothing would repair what blue's broke.
		green.stopCCM()
		before := ownedState(t, green.owner())
		t.Logf("green's resources: %v", kinds(before))

		base := blue.createLoadBalancer(t, "web", 80)
		blue.startNode(t, "us-central1-a", "node-45", "10.64.45.0/24")
		blue.waitForNode(t, "us-central1-a", "node-45", "10.64.45.0/24")
		blue.waitForGroupMember(t, "us-central1-a", "node-45")
		blue.deleteLoadBalancer(t, "web", base)
		blue.collectGarbageOnce(t)

		untouched(t, "green", before, ownedState(t, green.owner()))
	})

	t.Run("green's load balancer lifecycle and garbage collection leave blue's resources untouched", func(t *testing.T) {
		blue.stopCCM()
		before := ownedState(t, blue.owner())
		t.Logf("blue's resources: %v", kinds(before))
		if !hasKeyContaining(before, blueKeep) {
			t.Fatalf("blue's load balancer %s is not among its resources: %v", blueKeep, kinds(before))
		}

		green.collectGarbageOnce(t)
		base := green.createLoadBalancer(t, "api", 8443)
		green.startNode(t, "us-central1-a", "node-46", "10.68.46.0/24")
		green.waitForNode(t, "us-central1-a", "node-46", "10.68.46.0/24")
		green.waitForGroupMember(t, "us-central1-a", "node-46")
		green.deleteLoadBalancer(t, "api", base)
		green.deleteLoadBalancer(t, "web", greenWeb)

		untouched(t, "blue", before, ownedState(t, blue.owner()))
	})

	// blue removes its own load balancer.
	if blue.ccm == nil {
		blue.startCCM(t)
	}
	blue.deleteLoadBalancer(t, "keep", blueKeep)
	noForbiddenCalls(t, blue.ccms...)
	noForbiddenCalls(t, green.ccms...)
}

func hasKeyContaining(state map[string]string, s string) bool {
	for key := range state {
		if strings.Contains(key, s) {
			return true
		}
	}
	return false
}

func TestTheDefaultClusterNameIsRefusedUnlessTheCloudConfigAcceptsIt(t *testing.T) {
	bin := filepath.Join(s.bin, "vpc-cloud-controller-manager")
	_, err := cluster.StartCCM(context.Background(), s.dir, bin, "ccm-default-name", s.ccmConfig, s.cloudConfig, ownership.DefaultClusterName)
	const refusal = `vpc-cloud-controller-manager: --cluster-name is "kubernetes", the default every cluster that does not set it shares`
	if err == nil || !strings.Contains(err.Error(), refusal) {
		t.Fatalf("StartCCM with --cluster-name=kubernetes: %v; want it to stop with %q", err, refusal)
	}

	conf, err := os.ReadFile(s.cloudConfig)
	if err != nil {
		t.Fatal(err)
	}
	accepting := filepath.Join(s.dir, "gce-allow-default-name.conf")
	if err := os.WriteFile(accepting, append(conf, "\n[cluster]\nallow-default-name = true\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	ccm, err := cluster.StartCCM(context.Background(), s.dir, bin, "ccm-default-name-accepted", s.ccmConfig, accepting, ownership.DefaultClusterName)
	if err != nil {
		t.Fatalf("StartCCM with --cluster-name=kubernetes and [cluster] allow-default-name = true: %v", err)
	}
	t.Cleanup(ccm.Stop)
	startNode(t, "us-central1-c", "node-47")
	eventually(t, convergeWithin, "node-47 initialised", initialised("node-47"))
	noForbiddenCalls(t, ccm)
}

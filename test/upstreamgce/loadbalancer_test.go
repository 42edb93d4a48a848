package upstreamgce

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cloud-provider-gcp/providers/gce"
)

func newService(name string, annotations map[string]string) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", UID: types.UID("3f0c1a2b-4d5e-6f70-8192-a3b4c5d6e7f8"),
			Annotations: annotations,
		},
		Spec: v1.ServiceSpec{
			Type:                  v1.ServiceTypeLoadBalancer,
			Ports:                 []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt(8080), NodePort: 30080}},
			Selector:              map[string]string{"app": name},
			SessionAffinity:       v1.ServiceAffinityNone,
			ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyTypeCluster,
		},
	}
}

// lifecycle is what the service controller asks of a provider over a load
// balancer's life: create, resync with nothing changed, a change of nodes,
// delete. Each step must succeed, and afterwards fake-gce must hold exactly
// what it held before the first step.
func lifecycle(t *testing.T, uc *upstreamCloud, svc *v1.Service, checkTargets func(t *testing.T, nodes []*v1.Node)) {
	ctx := context.Background()
	lb := uc.gce
	name := lb.GetLoadBalancerName(ctx, clusterName, svc)
	before := uc.fake.stateKeys(t)

	status, err := lb.EnsureLoadBalancer(ctx, clusterName, svc, uc.nodes[:2])
	if err != nil {
		t.Fatalf("EnsureLoadBalancer (create): %v", err)
	}
	ip := forwardingRuleIP(t, uc, name)
	if diff := cmp.Diff(ingress(ip), status); diff != "" {
		t.Errorf("EnsureLoadBalancer (create) status, want the forwarding rule's IP (-want +got):\n%s", diff)
	}
	checkTargets(t, uc.nodes[:2])

	got, exists, err := lb.GetLoadBalancer(ctx, clusterName, svc)
	if err != nil || !exists {
		t.Fatalf("GetLoadBalancer after create = exists %v, error %v; want it to exist", exists, err)
	}
	if diff := cmp.Diff(ingress(ip), got); diff != "" {
		t.Errorf("GetLoadBalancer status (-want +got):\n%s", diff)
	}

	status, err = lb.EnsureLoadBalancer(ctx, clusterName, svc, uc.nodes[:2])
	if err != nil {
		t.Fatalf("EnsureLoadBalancer (resync): %v", err)
	}
	if diff := cmp.Diff(ingress(ip), status); diff != "" {
		t.Errorf("EnsureLoadBalancer (resync) moved the address (-want +got):\n%s", diff)
	}
	if now := forwardingRuleIP(t, uc, name); now != ip {
		t.Errorf("after the resync the forwarding rule's IP is %s, want %s still", now, ip)
	}

	changed := uc.nodes[1:]
	if err := lb.UpdateLoadBalancer(ctx, clusterName, svc, changed); err != nil {
		t.Fatalf("UpdateLoadBalancer (nodes %s): %v", nodeNames(changed), err)
	}
	checkTargets(t, changed)

	if err := lb.EnsureLoadBalancerDeleted(ctx, clusterName, svc); err != nil {
		t.Fatalf("EnsureLoadBalancerDeleted: %v", err)
	}
	if _, exists, err := lb.GetLoadBalancer(ctx, clusterName, svc); err != nil || exists {
		t.Errorf("GetLoadBalancer after delete = exists %v, error %v; want it gone", exists, err)
	}
	if diff := cmp.Diff(before, uc.fake.stateKeys(t)); diff != "" {
		t.Errorf("fake-gce after EnsureLoadBalancerDeleted, want what it held before EnsureLoadBalancer (-before +after):\n%s", diff)
	}
}

func TestUpstreamExternalLoadBalancerLeavesNothingBehind(t *testing.T) {
	uc := newUpstreamCloud(t)
	svc := newService("web", nil)
	name := uc.gce.GetLoadBalancerName(context.Background(), clusterName, svc)
	lifecycle(t, uc, svc, func(t *testing.T, nodes []*v1.Node) {
		t.Helper()
		tp, err := uc.fake.compute.TargetPools.Get(project, region, name).Do()
		if err != nil {
			t.Fatalf("get target pool %s: %v", name, err)
		}
		if diff := cmp.Diff(instanceLinks(nodes), sortedNames(tp.Instances)); diff != "" {
			t.Errorf("target pool %s instances (-want +got):\n%s", name, diff)
		}
	})
}

func TestUpstreamInternalLoadBalancerLeavesNothingBehind(t *testing.T) {
	// The provider decides whether an internal forwarding rule must be
	// recreated by comparing its subnetwork link with its own as strings
	// (gce_loadbalancer_internal.go forwardingRulesEqual), and builds its
	// own from the api-endpoint when given only a name (gce.go
	// gceSubnetworkURL). The API answers every link rooted at
	// https://www.googleapis.com/compute/v1/ whatever endpoint was called
	// (the gcp-http-logs fixtures: requests to compute.googleapis.com,
	// selfLinks at www.googleapis.com), so with any other endpoint each
	// resync would delete the rule and move the Service's address. A user
	// of another endpoint gives the subnetwork as that canonical URL, as
	// gce.conf's subnetwork-name allows.
	uc := newUpstreamCloud(t, func(c *gce.CloudConfig) {
		c.SubnetworkName = ""
		c.SubnetworkURL = "https://www.googleapis.com/compute/v1/projects/" + project + "/regions/" + region + "/subnetworks/" + subnetworkName
	})
	svc := newService("internal-web", map[string]string{gce.ServiceAnnotationLoadBalancerType: string(gce.LBTypeInternal)})
	// The provider records its finalizer on the Service through the
	// Kubernetes API, so the Service must exist there.
	if _, err := uc.kube.CoreV1().Services(svc.Namespace).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lifecycle(t, uc, svc, func(t *testing.T, nodes []*v1.Node) {
		t.Helper()
		igs, err := uc.fake.compute.InstanceGroups.AggregatedList(project).Do()
		if err != nil {
			t.Fatalf("list instance groups: %v", err)
		}
		var members []string
		for _, scoped := range igs.Items {
			for _, ig := range scoped.InstanceGroups {
				zone := lastSegment(ig.Zone)
				in, err := uc.fake.compute.InstanceGroups.ListInstances(project, zone, ig.Name, &compute.InstanceGroupsListInstancesRequest{InstanceState: "ALL"}).Do()
				if err != nil {
					t.Fatalf("list instances of %s: %v", ig.Name, err)
				}
				for _, m := range in.Items {
					members = append(members, m.Instance)
				}
			}
		}
		if diff := cmp.Diff(instanceLinks(nodes), sortedNames(members)); diff != "" {
			t.Errorf("instance group members (-want +got):\n%s", diff)
		}
	})
}

func forwardingRuleIP(t *testing.T, uc *upstreamCloud, name string) string {
	t.Helper()
	fr, err := uc.fake.compute.ForwardingRules.Get(project, region, name).Do()
	if err != nil {
		t.Fatalf("get forwarding rule %s: %v", name, err)
	}
	return fr.IPAddress
}

func ingress(ip string) *v1.LoadBalancerStatus {
	return &v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: ip}}}
}

// instanceLinks names the nodes' instances as "zone/name", sorted.
func instanceLinks(nodes []*v1.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Labels[v1.LabelTopologyZone]+"/"+n.Name)
	}
	sort.Strings(out)
	return out
}

// sortedNames turns instance links into "zone/name", sorted.
func sortedNames(links []string) []string {
	var out []string
	for _, l := range links {
		parts := strings.Split(l, "/")
		out = append(out, parts[len(parts)-3]+"/"+parts[len(parts)-1])
	}
	sort.Strings(out)
	return out
}

func nodeNames(nodes []*v1.Node) string {
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return strings.Join(names, ",")
}

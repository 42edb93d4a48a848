package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// The CCM as deploy/ runs it must fit a cluster of one control-plane node
// (kubeadm's default, where `kubectl drain` of that node is a step of every
// upgrade) as well as one of three. The suite has no scheduler and no
// workload controllers, so the test does what they would, with the
// predicates kube-scheduler itself uses (k8s.io/component-helpers: the
// NodeAffinity and TaintToleration filters), and leaves to the real API
// server what it decides: whether evicting the CCM pod of a drained node is
// allowed (the eviction subresource enforces PodDisruptionBudgets).
//
// Each kustomization gets an API server of its own, so that its objects
// (a budget, say) meet neither the suite's nor another kustomization's.
func TestTheCCMFitsOneAndThreeControlPlaneNodesAndLetsThemBeDrained(t *testing.T) {
	for _, dir := range []string{"base", "overlays/fake-gce"} {
		t.Run(dir, func(t *testing.T) {
			cp := startPlacementControlPlane(t, dir)
			for _, n := range []int{1, 3} {
				t.Run(fmt.Sprintf("%d control-plane nodes and a worker", n), func(t *testing.T) {
					placeTheCCMAndDrainANode(t, cp, n)
				})
			}
		})
	}
}

// startPlacementControlPlane starts etcd and kube-apiserver and applies the
// kustomization in deploy/dir to them.
func startPlacementControlPlane(t *testing.T, dir string) *placementCluster {
	t.Helper()
	ctx := context.Background()
	cp := startOwnControlPlane(t, "placement-"+strings.ReplaceAll(dir, "/", "-"))
	objs, err := deploy.Render(filepath.Join(s.repo, "deploy", dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	return &placementCluster{ControlPlane: cp, rendered: objs}
}

// placementCluster is an API server with a kustomization of deploy/ applied.
type placementCluster struct {
	*cluster.ControlPlane
	rendered []*unstructured.Unstructured
}

func placeTheCCMAndDrainANode(t *testing.T, cp *placementCluster, n int) {
	t.Helper()
	var controlPlane []*v1.Node
	for i := 1; i <= n; i++ {
		controlPlane = append(controlPlane, createNode(t, cp, controlPlaneNode(fmt.Sprintf("cp-%d", i), i)))
	}
	worker := createNode(t, cp, workerNode("worker-1"))
	nodes := append(slices.Clone(controlPlane), worker)

	w := theCCMWorkload(t, cp)
	var feasible []*v1.Node
	for _, node := range nodes {
		if why := unschedulable(&v1.Pod{Spec: w.template.Spec}, node); why == "" {
			feasible = append(feasible, node)
		} else if node != worker {
			t.Errorf("control-plane node %s cannot run the CCM: %s", node.Name, why)
		}
	}
	if slices.Contains(feasible, worker) {
		t.Errorf("the worker node %s can run the CCM; it belongs on control-plane nodes", worker.Name)
	}
	// hostNetwork: each pod holds the secure port on its node, so a
	// node runs at most one (the scheduler's NodePorts filter).
	wanted := w.podsWanted(feasible)
	if !w.template.Spec.HostNetwork {
		t.Fatalf("the %s's pods are not on the host network; the CCM runs before the CNI", w.kind)
	}
	if wanted > len(feasible) {
		t.Errorf("the %s wants %d CCM pods, one per node (hostNetwork :10258), and %d of the %d control-plane nodes can take one: %d would stay Pending",
			w.kind, wanted, len(feasible), n, wanted-len(feasible))
	}
	placed := feasible[:min(wanted, len(feasible))]
	if len(placed) == 0 {
		t.Fatalf("the %s runs no CCM pod on %d control-plane nodes", w.kind, n)
	}

	pods := runCCMPods(t, cp, w, placed)
	writeDisruptionStatus(t, cp, w, pods)
	// kubectl drain of the first control-plane node evicts its pod.
	drained := pods[0]
	err := cp.Admin.CoreV1().Pods(drained.Namespace).EvictV1(context.Background(), &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Namespace: drained.Namespace, Name: drained.Name},
	})
	if err != nil {
		t.Fatalf("evict the CCM pod of node %s (kubectl drain): %v", drained.Spec.NodeName, err)
	}
	got, err := cp.Admin.CoreV1().Pods(drained.Namespace).Get(context.Background(), drained.Name, metav1.GetOptions{})
	if err == nil && got.DeletionTimestamp == nil {
		t.Errorf("the evicted pod %s is not being deleted", drained.Name)
	}
}

// controlPlaneNode is a control-plane node as it registers before the CCM
// and the CNI run: the role label (kubeadm and Talos write "", k3s "true"),
// kubeadm's control-plane taint, and the uninitialized and not-ready taints.
func controlPlaneNode(name string, i int) *v1.Node {
	role := ""
	if i%2 == 0 {
		role = "true"
	}
	n := workerNode(name)
	n.Labels["node-role.kubernetes.io/control-plane"] = role
	n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: v1.TaintEffectNoSchedule})
	return n
}

func workerNode(name string) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
		Spec: v1.NodeSpec{Taints: []v1.Taint{
			{Key: "node.cloudprovider.kubernetes.io/uninitialized", Value: "true", Effect: v1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/not-ready", Effect: v1.TaintEffectNoSchedule},
		}},
	}
}

// createNode creates a Node object, or takes the one an earlier subtest
// made, with no kubelet behind it: no CCM runs on this API server to
// initialise or delete it.
func createNode(t *testing.T, cp *placementCluster, n *v1.Node) *v1.Node {
	t.Helper()
	created, err := cp.Admin.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = cp.Admin.CoreV1().Nodes().Get(context.Background(), n.Name, metav1.GetOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// unschedulable says why the pod would not run on node (empty: it would),
// by the predicates that apply to the CCM: the pod's nodeSelector and
// required node affinity, and the node's NoSchedule and NoExecute taints.
// The DaemonSet controller asks the same before it makes a node's pod
// (kubernetes/kubernetes pkg/controller/daemon/daemon_controller.go,
// predicates), as kube-scheduler's NodeAffinity and TaintToleration filters
// do for any pod.
func unschedulable(pod *v1.Pod, node *v1.Node) string {
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil || !ok {
		return fmt.Sprintf("its labels %v do not match the pod's node selector and affinity (%v)", node.Labels, err)
	}
	taint, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations, keepsPodsOff, false)
	if untolerated {
		return "the pod does not tolerate its taint " + taint.ToString()
	}
	return ""
}

func keepsPodsOff(t *v1.Taint) bool {
	return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
}

// ccmWorkload is the CCM's workload as the API server stores it (defaults
// applied), whichever kind deploy/ makes it.
type ccmWorkload struct {
	kind     string
	template v1.PodTemplateSpec
	selector *metav1.LabelSelector
	replicas *int32 // a Deployment's; nil for a DaemonSet, which runs one per feasible node
}

func (w ccmWorkload) podsWanted(feasible []*v1.Node) int {
	if w.replicas == nil {
		return len(feasible)
	}
	return int(*w.replicas)
}

func theCCMWorkload(t *testing.T, cp *placementCluster) ccmWorkload {
	t.Helper()
	ctx := context.Background()
	var w *ccmWorkload
	for _, o := range cp.rendered {
		switch o.GetKind() {
		case "DaemonSet":
			ds, err := cp.Admin.AppsV1().DaemonSets(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w = &ccmWorkload{kind: "DaemonSet", template: ds.Spec.Template, selector: ds.Spec.Selector}
		case "Deployment":
			d, err := cp.Admin.AppsV1().Deployments(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w = &ccmWorkload{kind: "Deployment", template: d.Spec.Template, selector: d.Spec.Selector, replicas: d.Spec.Replicas}
		default:
			continue
		}
	}
	if w == nil {
		t.Fatal("the kustomization renders no DaemonSet or Deployment")
	}
	return *w
}

// runCCMPods creates the CCM's pods on nodes, as the workload's controller
// and the scheduler would, and marks them running and ready, as their
// kubelets would. Evicting a pod that is not running ignores every
// PodDisruptionBudget (pkg/registry/core/pod/storage/eviction.go, canIgnorePDB),
// so only running pods test the budget.
func runCCMPods(t *testing.T, cp *placementCluster, w ccmWorkload, nodes []*v1.Node) []*v1.Pod {
	t.Helper()
	ctx := context.Background()
	var pods []*v1.Pod
	for _, node := range nodes {
		pod := &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cloud-controller-manager-" + node.Name, Labels: w.template.Labels},
			Spec:       *w.template.Spec.DeepCopy(),
		}
		pod.Spec.NodeName = node.Name
		created, err := cp.Admin.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create the CCM pod of node %s: %v", node.Name, err)
		}
		t.Cleanup(func() {
			// No kubelet confirms a graceful deletion: delete at once.
			cp.Admin.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
		})
		created.Status.Phase = v1.PodRunning
		created.Status.Conditions = []v1.PodCondition{
			{Type: v1.PodScheduled, Status: v1.ConditionTrue},
			{Type: v1.PodReady, Status: v1.ConditionTrue},
		}
		running, err := cp.Admin.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("mark the CCM pod of node %s running: %v", node.Name, err)
		}
		pods = append(pods, running)
	}
	return pods
}

// writeDisruptionStatus writes the status of every PodDisruptionBudget that
// selects the CCM's pods as the disruption controller of
// kube-controller-manager would (pkg/controller/disruption): the suite runs
// none, and the eviction subresource refuses every eviction under a budget
// whose status it has not observed. Integer minAvailable and maxUnavailable
// only; expected pods are the ones the workload wants.
func writeDisruptionStatus(t *testing.T, cp *placementCluster, w ccmWorkload, pods []*v1.Pod) {
	t.Helper()
	ctx := context.Background()
	pdbs, err := cp.Admin.PolicyV1().PodDisruptionBudgets("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pdb := range pdbs.Items {
		selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if !selector.Matches(labels.Set(w.template.Labels)) {
			continue
		}
		expected, healthy := int32(len(pods)), int32(len(pods))
		if w.replicas != nil {
			expected = *w.replicas
		}
		var desired int32
		switch {
		case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
			desired = pdb.Spec.MinAvailable.IntVal
		case pdb.Spec.MaxUnavailable != nil && pdb.Spec.MaxUnavailable.Type == intstr.Int:
			desired = max(0, expected-pdb.Spec.MaxUnavailable.IntVal)
		default:
			t.Fatalf("PodDisruptionBudget %s: only integer minAvailable or maxUnavailable are computed here: %+v", pdb.Name, pdb.Spec)
		}
		pdb.Status = policyv1.PodDisruptionBudgetStatus{
			ObservedGeneration: pdb.Generation, ExpectedPods: expected, CurrentHealthy: healthy, DesiredHealthy: desired,
			DisruptionsAllowed: max(0, healthy-desired),
		}
		if _, err := cp.Admin.PolicyV1().PodDisruptionBudgets("kube-system").UpdateStatus(ctx, &pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("write the status of PodDisruptionBudget %s: %v", pdb.Name, err)
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// endpointSliceControllerName is the managed-by label of the slices
// kube-controller-manager's endpointslice controller writes
// (k8s.io/endpointslice controllerName).
const endpointSliceControllerName = "endpointslice-controller.k8s.io"

// createDeployment runs replicas pods labelled app=name on the named node
// (a hollow kubelet runs them), deleted when the test ends.
func createDeployment(t *testing.T, name string, replicas int32, node string) {
	t.Helper()
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: v1.PodSpec{
					NodeSelector: map[string]string{v1.LabelHostname: node},
					Containers:   []v1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}},
				},
			},
		},
	}
	if _, err := s.cp.Admin.AppsV1().Deployments("default").Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cp.Admin.AppsV1().Deployments("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// scaleDeployment sets the Deployment's replicas through its scale
// subresource, as kubectl scale does.
func scaleDeployment(t *testing.T, name string, replicas int32) {
	t.Helper()
	ctx := context.Background()
	sc, err := s.cp.Admin.AppsV1().Deployments("default").GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = replicas
	if _, err := s.cp.Admin.AppsV1().Deployments("default").UpdateScale(ctx, name, sc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scale deployment %s to %d: %v", name, replicas, err)
	}
}

// deploymentReady holds once the Deployment has exactly want Ready pods.
func deploymentReady(name string, want int32) func() (bool, error) {
	return func() (bool, error) {
		d, err := s.cp.Admin.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := d.Status
		return st.ReadyReplicas == want && st.Replicas == want, fmt.Errorf("deployment %s: %d replicas, %d ready", name, st.Replicas, st.ReadyReplicas)
	}
}

// createClusterIPService selects the pods labelled app=name, deleted when
// the test ends.
func createClusterIPService(t *testing.T, name string) {
	t.Helper()
	svc := fixture.Service(name, fixture.Selector(map[string]string{"app": name}), fixture.HTTPPort(0, 0))
	if _, err := s.cp.Admin.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cp.Admin.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// readyEndpoints are the ready endpoints of the Service in the slices the
// endpointslice controller of kube-controller-manager wrote.
func readyEndpoints(service string) ([]discoveryv1.Endpoint, error) {
	list, err := s.cp.Admin.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service + "," + discoveryv1.LabelManagedBy + "=" + endpointSliceControllerName})
	if err != nil {
		return nil, err
	}
	var ready []discoveryv1.Endpoint
	for _, sl := range list.Items {
		for _, ep := range sl.Endpoints {
			if ptr.Deref(ep.Conditions.Ready, true) && len(ep.Addresses) > 0 {
				ready = append(ready, ep)
			}
		}
	}
	return ready, nil
}

package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// demoReplicas is each demo Deployment's size: more pods than one node, so
// the scheduler spreads them.
const demoReplicas = 2

// ensureDemoDeployment creates the Deployment whose pods (app=name) back
// the demo Service of that name, unless it exists.
func ensureDemoDeployment(ctx context.Context, cp *cluster.ControlPlane, name string) error {
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](demoReplicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
					Args:  []string{"netexec", "--http-port=80"},
					Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 80}}}}},
			},
		},
	}
	_, err := cp.Admin.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Deployment %s: %w", name, err)
	}
	return nil
}

// waitDemoPods waits until the endpointslice controller publishes every
// demo Deployment's pods as ready endpoints of its Service: the kubelet may
// report a pod Ready a moment before the pod's address.
func waitDemoPods(ctx context.Context, cp *cluster.ControlPlane) error {
	deadline := time.Now().Add(2 * time.Minute)
	for _, d := range demoServices {
		for {
			n, err := readyEndpoints(ctx, cp, d.name)
			if err == nil && n == demoReplicas {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the pods of Deployment %s are not ready endpoints of its Service within 2 minutes; see kubectl describe deployment %s and the logs in _output/local-up/logs", d.name, d.name)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

func readyEndpoints(ctx context.Context, cp *cluster.ControlPlane, service string) (int, error) {
	slices, err := cp.Admin.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sl := range slices.Items {
		for _, ep := range sl.Endpoints {
			if ptr.Deref(ep.Conditions.Ready, true) {
				n++
			}
		}
	}
	return n, nil
}

// listDemoPods prints each demo Service's pods and the endpoints the
// endpointslice controller published for it.
func listDemoPods(ctx context.Context, cp *cluster.ControlPlane, w *tabwriter.Writer) error {
	fmt.Fprintln(w, "  SERVICE\tPOD\tNODE\tPOD IP\tREADY\tENDPOINT")
	for _, d := range demoServices {
		pods, err := cp.Admin.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + d.name})
		if err != nil {
			return err
		}
		slices, err := cp.Admin.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + d.name})
		if err != nil {
			return err
		}
		endpoints := map[string]string{} // pod name -> "IP:port ready|not ready"
		for _, sl := range slices.Items {
			port := ""
			if len(sl.Ports) > 0 && sl.Ports[0].Port != nil {
				port = fmt.Sprintf(":%d", *sl.Ports[0].Port)
			}
			for _, ep := range sl.Endpoints {
				if ep.TargetRef == nil || len(ep.Addresses) == 0 {
					continue
				}
				state := "ready"
				if !ptr.Deref(ep.Conditions.Ready, true) {
					state = "not ready"
				}
				endpoints[ep.TargetRef.Name] = ep.Addresses[0] + port + " " + state
			}
		}
		sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
		for _, p := range pods.Items {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", d.name, p.Name, p.Spec.NodeName, p.Status.PodIP, podReady(&p),
				orNone(endpoints[p.Name]))
		}
	}
	return nil
}

func podReady(p *v1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return strings.ToLower(string(c.Status))
		}
	}
	return "unknown"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

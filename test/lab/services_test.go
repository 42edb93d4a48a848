package lab_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// managedBy marks the EndpointSlices the lab writes itself: no kubelet
// runs its pods, so no endpointslice controller could, and one with another
// manager value never touches them.
const managedBy = "lab.cloud-provider-vpc.io"

// newService is a selector-less Service "web"-style: TCP port 80 to the
// pods' echo port, ClusterIP unless an option says otherwise.
func newService(name string, opts ...fixture.ServiceOption) *v1.Service {
	return fixture.Service(name, append([]fixture.ServiceOption{fixture.HTTPPort(int32(topology.PodPort), 0)}, opts...)...)
}

func withPort(port int32) fixture.ServiceOption {
	return func(s *v1.Service) { s.Spec.Ports[0].Port = port }
}

// nodeIPMode puts a Service in the nodeip mode (docs/nodeip.md).
func nodeIPMode() fixture.ServiceOption {
	return fixture.Annotation("cloud-provider-vpc.io/load-balancer-mode", "nodeip")
}

// createService creates s, deleted again (and waited for, so that its cloud
// resources go) when the test ends.
func createService(t *testing.T, s *v1.Service) *v1.Service {
	t.Helper()
	ctx := context.Background()
	svcs := e.cp.Admin.CoreV1().Services(s.Namespace)
	got, err := svcs.Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svcs.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete Service %s: %v", s.Name, err)
			return
		}
		// The finalizers go once the controllers have taken the Service's
		// cloud resources and addresses back.
		eventually(t, lbWithin, "Service "+s.Name+" gone", func() (bool, error) {
			_, err := svcs.Get(ctx, s.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, fmt.Errorf("still there (%v)", err)
		})
	})
	return got
}

// publish writes the Service's EndpointSlice with pods as ready endpoints
// on their nodes, replacing the one it wrote before.
func publish(t *testing.T, s *v1.Service, pods ...*topology.Pod) {
	t.Helper()
	ctx := context.Background()
	slices := e.cp.Admin.DiscoveryV1().EndpointSlices(s.Namespace)
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name + "-lab", Namespace: s.Namespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: s.Name, discoveryv1.LabelManagedBy: managedBy}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(v1.ProtocolTCP),
			Port: ptr.To(int32(topology.PodPort))}},
	}
	for _, p := range pods {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.IP.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			NodeName:   ptr.To(p.Node.Name),
			TargetRef:  &v1.ObjectReference{Kind: "Pod", Namespace: s.Namespace, Name: p.Name},
		})
	}
	old, err := slices.Get(ctx, es.Name, metav1.GetOptions{})
	if err == nil {
		es.ResourceVersion = old.ResourceVersion
		_, err = slices.Update(ctx, es, metav1.UpdateOptions{})
	} else {
		_, err = slices.Create(ctx, es, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("publish endpoints of %s: %v", s.Name, err)
	}
}

// clusterIPAddr is the Service's ClusterIP and port.
func clusterIPAddr(s *v1.Service) string {
	return net.JoinHostPort(s.Spec.ClusterIP, strconv.Itoa(int(s.Spec.Ports[0].Port)))
}

// ingressAddrs waits for the Service's status.loadBalancer.ingress and
// returns its addresses with the Service's port.
func ingressAddrs(t *testing.T, s *v1.Service, want int) []string {
	t.Helper()
	var addrs []string
	eventually(t, lbWithin, fmt.Sprintf("%d ingress addresses of %s", want, s.Name), func() (bool, error) {
		got, err := e.cp.Admin.CoreV1().Services(s.Namespace).Get(context.Background(), s.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		addrs = nil
		for _, in := range got.Status.LoadBalancer.Ingress {
			addrs = append(addrs, net.JoinHostPort(in.IP, strconv.Itoa(int(s.Spec.Ports[0].Port))))
		}
		return len(addrs) == want, fmt.Errorf("ingress %v", got.Status.LoadBalancer.Ingress)
	})
	return addrs
}

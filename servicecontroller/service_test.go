package servicecontroller

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	servicehelper "k8s.io/cloud-provider/service/helpers"
	"k8s.io/utils/ptr"
)

type serviceOpt func(*v1.Service)

func newService(name string, opts ...serviceOpt) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer,
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func withType(t v1.ServiceType) serviceOpt { return func(s *v1.Service) { s.Spec.Type = t } }
func withClass(c string) serviceOpt {
	return func(s *v1.Service) { s.Spec.LoadBalancerClass = ptr.To(c) }
}
func withFinalizer() serviceOpt {
	return func(s *v1.Service) { s.Finalizers = append(s.Finalizers, servicehelper.LoadBalancerCleanupFinalizer) }
}
func deleted() serviceOpt {
	return func(s *v1.Service) { s.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }
}
func withAnnotation(k, v string) serviceOpt {
	return func(s *v1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
	}
}
func withIngress(ip string) serviceOpt {
	return func(s *v1.Service) {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, v1.LoadBalancerIngress{IP: ip})
	}
}
func withSourceRanges(r ...string) serviceOpt {
	return func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = r }
}

func TestHandled(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  *v1.Service
		want bool
	}{
		{"a LoadBalancer Service without a class is handled", newService("a"), true},
		{"a Service with a class is another controller's", newService("a", withClass("cloud-provider-vpc.io/nodeip")), false},
		{"a ClusterIP Service is not handled", newService("a", withType(v1.ServiceTypeClusterIP)), false},
		{"a ClusterIP Service that kept the finalizer is cleaned up", newService("a", withType(v1.ServiceTypeClusterIP), withFinalizer()), true},
		{"a deleted Service with the finalizer is cleaned up", newService("a", deleted(), withFinalizer()), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := handled(tc.svc); got != tc.want {
				t.Errorf("handled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSpecFingerprint(t *testing.T) {
	base := specFingerprint(newService("a", withAnnotation("x", "1"), withAnnotation("y", "2")))
	for _, tc := range []struct {
		name string
		svc  *v1.Service
		same bool
	}{
		{"the finalizer does not count", newService("a", withAnnotation("x", "1"), withAnnotation("y", "2"), withFinalizer()), true},
		{"the status does not count", newService("a", withAnnotation("x", "1"), withAnnotation("y", "2"), withIngress("203.0.113.7")), true},
		{"an annotation changed", newService("a", withAnnotation("x", "1"), withAnnotation("y", "3")), false},
		{"annotations whose keys and values only concatenate alike", newService("a", withAnnotation("x", "1y"), withAnnotation("", "2")), false},
		{"source ranges changed", newService("a", withAnnotation("x", "1"), withAnnotation("y", "2"), withSourceRanges("10.0.0.0/8")), false},
		{"a re-created Service (another UID)", func() *v1.Service {
			s := newService("a", withAnnotation("x", "1"), withAnnotation("y", "2"))
			s.UID = "other"
			return s
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := specFingerprint(tc.svc) == base; got != tc.same {
				t.Errorf("same fingerprint = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestNextStep(t *testing.T) {
	svc := newService("a", withFinalizer(), withIngress("203.0.113.7"))
	spec := specFingerprint(svc)
	done := lastSync{uid: svc.UID, spec: spec, nodes: 7, status: svc.Status.LoadBalancer}
	with := func(f func(*lastSync)) lastSync { l := done; f(&l); return l }
	for _, tc := range []struct {
		name  string
		svc   *v1.Service
		last  lastSync
		known bool
		nodes uint64
		want  step
	}{
		{"a Service never reconciled is ensured", svc, lastSync{}, false, 7, stepEnsure},
		{"nothing changed: no call", svc, done, true, 7, stepNone},
		{"only the node set changed: an update", svc, done, true, 8, stepUpdateNodes},
		{"the spec changed: an ensure", svc, with(func(l *lastSync) { l.spec++ }), true, 8, stepEnsure},
		{"a stale record (resync or failed update) is ensured", svc, with(func(l *lastSync) { l.stale = true }), true, 7, stepEnsure},
		{"a status someone else changed is ensured and rewritten", newService("a", withFinalizer()), done, true, 7, stepEnsure},
		{"the status of a Service implemented elsewhere is not ours to check", newService("a", withFinalizer()),
			with(func(l *lastSync) { l.elsewhere = true; l.status = v1.LoadBalancerStatus{} }), true, 7, stepNone},
		{"a deleted Service is cleaned up", newService("a", withFinalizer(), deleted()), done, true, 7, stepDelete},
		{"a Service that is no longer a LoadBalancer is cleaned up", newService("a", withType(v1.ServiceTypeNodePort)), done, true, 7, stepDelete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextStep(tc.svc, tc.last, tc.known, specFingerprint(tc.svc), tc.nodes); got != tc.want {
				t.Errorf("nextStep = %v, want %v", got, tc.want)
			}
		})
	}
}

package servicecontroller

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servicehelper "k8s.io/cloud-provider/service/helpers"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// newService is a LoadBalancer Service on port 80 (node port 30080) whose
// UID is "uid-" and its name.
func newService(name string, opts ...fixture.ServiceOption) *v1.Service {
	return fixture.Service(name, append([]fixture.ServiceOption{fixture.UID("uid-" + name), fixture.LoadBalancer(), fixture.HTTPPort(0, 30080)}, opts...)...)
}

func withFinalizer() fixture.ServiceOption {
	return fixture.Finalizers(servicehelper.LoadBalancerCleanupFinalizer)
}
func deleted() fixture.ServiceOption {
	return func(s *v1.Service) { s.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }
}

func TestHandled(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  *v1.Service
		want bool
	}{
		{"a LoadBalancer Service without a class is handled", newService("a"), true},
		{"a Service with a class is another controller's", newService("a", fixture.Class("cloud-provider-vpc.io/nodeip")), false},
		{"a ClusterIP Service is not handled", newService("a", fixture.Type(v1.ServiceTypeClusterIP)), false},
		{"a ClusterIP Service that kept the finalizer is cleaned up", newService("a", fixture.Type(v1.ServiceTypeClusterIP), withFinalizer()), true},
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
	base := specFingerprint(newService("a", fixture.Annotation("x", "1"), fixture.Annotation("y", "2")))
	for _, tc := range []struct {
		name string
		svc  *v1.Service
		same bool
	}{
		{"the finalizer does not count", newService("a", fixture.Annotation("x", "1"), fixture.Annotation("y", "2"), withFinalizer()), true},
		{"the status does not count", newService("a", fixture.Annotation("x", "1"), fixture.Annotation("y", "2"), fixture.Ingress("203.0.113.7")), true},
		{"an annotation changed", newService("a", fixture.Annotation("x", "1"), fixture.Annotation("y", "3")), false},
		{"annotations whose keys and values only concatenate alike", newService("a", fixture.Annotation("x", "1y"), fixture.Annotation("", "2")), false},
		{"source ranges changed", newService("a", fixture.Annotation("x", "1"), fixture.Annotation("y", "2"), fixture.SourceRanges("10.0.0.0/8")), false},
		{"a re-created Service (another UID)", func() *v1.Service {
			s := newService("a", fixture.Annotation("x", "1"), fixture.Annotation("y", "2"))
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
	svc := newService("a", withFinalizer(), fixture.Ingress("203.0.113.7"))
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
		{"a Service that is no longer a LoadBalancer is cleaned up", newService("a", fixture.Type(v1.ServiceTypeNodePort)), done, true, 7, stepDelete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextStep(tc.svc, tc.last, tc.known, specFingerprint(tc.svc), tc.nodes); got != tc.want {
				t.Errorf("nextStep = %v, want %v", got, tc.want)
			}
		})
	}
}

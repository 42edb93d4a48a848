package servicecontroller

import (
	"encoding/json"
	"hash/fnv"
	"slices"

	v1 "k8s.io/api/core/v1"
	servicehelper "k8s.io/cloud-provider/service/helpers"
)

// wantsLoadBalancer: a Service of type LoadBalancer whose loadBalancerClass
// is unset is this controller's to implement; a class names another one.
func wantsLoadBalancer(svc *v1.Service) bool {
	return svc.Spec.Type == v1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

// needsCleanup: the Service carries the cleanup finalizer and is being
// deleted or no longer of type LoadBalancer.
func needsCleanup(svc *v1.Service) bool {
	if !servicehelper.HasLBFinalizer(svc) {
		return false
	}
	return svc.DeletionTimestamp != nil || svc.Spec.Type != v1.ServiceTypeLoadBalancer
}

// handled says whether the controller acts on a Service at all.
func handled(svc *v1.Service) bool {
	return wantsLoadBalancer(svc) || needsCleanup(svc)
}

// specFingerprint summarises what a load balancer is built from: the spec,
// the annotations (providers read their settings there) and the UID (a
// re-created Service is a new load balancer). Finalizers are left out: the
// cleanup path is chosen by needsCleanup, and adding the finalizer must not
// make the next event look like a new request. A Service
// whose fingerprint, node set and status are those of its last successful
// sync needs no cloud call.
func specFingerprint(svc *v1.Service) uint64 {
	h := fnv.New64a()
	// Marshalling a Service spec cannot fail: it has no channels, funcs or
	// cyclic values.
	spec, _ := json.Marshal(&svc.Spec)
	h.Write(spec)
	keys := make([]string, 0, len(svc.Annotations))
	for k := range svc.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(svc.Annotations[k]))
		h.Write([]byte{0})
	}
	h.Write([]byte(svc.UID))
	return h.Sum64()
}

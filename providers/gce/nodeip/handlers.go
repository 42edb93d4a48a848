package nodeip

import (
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbnode"
)

// The informers' event handlers. They only enqueue; the workers read the
// listers.

func (c *Controller) onServiceAdd(obj any) {
	svc, ok := obj.(*v1.Service)
	if !ok {
		return
	}
	if c.interesting(svc) {
		c.statusQueue.Add(serviceKey(svc))
	}
	c.enqueuePeers(serviceKey(svc), nodePortsOf(svc))
}

func (c *Controller) onServiceUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*v1.Service)
	svc, ok2 := newObj.(*v1.Service)
	if !ok1 || !ok2 {
		return
	}
	// Any Service's node ports (a NodePort Service's too) decide whether
	// a nodeip Service on the same port shadows them.
	if was, is := nodePortsOf(old), nodePortsOf(svc); !slices.Equal(was, is) {
		c.enqueuePeers(serviceKey(svc), append(was, is...))
	}
	if (!c.interesting(old) && !c.interesting(svc)) || c.isOwnWrite(old, svc) {
		return
	}
	c.statusQueue.Add(serviceKey(svc))
}

func (c *Controller) onServiceDelete(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	svc, ok := obj.(*v1.Service)
	if !ok {
		return
	}
	key := serviceKey(svc)
	c.mu.Lock()
	memo := c.claims[key]
	delete(c.claims, key)
	delete(c.written, key)
	delete(c.firewallProblems, string(svc.UID))
	delete(c.served, string(svc.UID))
	c.mu.Unlock()
	if r, known := c.view.peekAll(c.ruleNames(string(svc.UID)).all()); !known || r.exists() {
		c.firewallQueue.Add(firewallKey{Service: key, UID: string(svc.UID)})
	}
	c.enqueuePeers(key, slices.Concat(memo.ports, portsOf(svc), nodePortsOf(svc)))
}

func (c *Controller) onNodeUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*v1.Node)
	n, ok2 := newObj.(*v1.Node)
	if ok1 && ok2 && nodeChanged(old, n) {
		c.nodesChanged()
	}
}

// nodesChanged: a node came, went or changed in a way answers depend on.
// The informer's store already has the change when handlers run.
func (c *Controller) nodesChanged() {
	c.nodeGen.Add(1)
	c.enqueueServed()
}

func (c *Controller) onSliceChange(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		c.enqueueLocal(s)
	}
}

func (c *Controller) onSliceUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*discoveryv1.EndpointSlice)
	s, ok2 := newObj.(*discoveryv1.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	if !sameKeys(readyEndpointNodes([]*discoveryv1.EndpointSlice{old}), readyEndpointNodes([]*discoveryv1.EndpointSlice{s})) ||
		old.Labels[discoveryv1.LabelServiceName] != s.Labels[discoveryv1.LabelServiceName] {
		c.enqueueLocal(old)
		c.enqueueLocal(s)
	}
}

// enqueueLocal enqueues the slice's Service if it is served with
// externalTrafficPolicy: Local, the only case whose answer depends on
// endpoints.
func (c *Controller) enqueueLocal(s *discoveryv1.EndpointSlice) {
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return
	}
	svc, err := c.services.Services(s.Namespace).Get(name)
	if err != nil || svc.Spec.ExternalTrafficPolicy != v1.ServiceExternalTrafficPolicyLocal || roleOf(svc, c.deps.Defaults.Mode) != serve {
		return
	}
	c.statusQueue.Add(serviceKey(svc))
}

// enqueueServed enqueues every served Service: a node change may change
// any answer. Services whose answer stays the same cost a reconcile in
// memory and no write.
func (c *Controller) enqueueServed() {
	svcs, _ := c.services.List(labels.Everything())
	for _, svc := range svcs {
		if roleOf(svc, c.deps.Defaults.Mode) == serve {
			c.statusQueue.Add(serviceKey(svc))
		}
	}
}

// enqueueInteresting enqueues every Service the controller serves or left
// something on, at start.
func (c *Controller) enqueueInteresting() {
	svcs, _ := c.services.List(labels.Everything())
	for _, svc := range svcs {
		if c.interesting(svc) {
			c.statusQueue.Add(serviceKey(svc))
		}
	}
}

// enqueuePeers enqueues the served Services that share one of the ports,
// but not the Service key itself: their port conflicts may have changed.
func (c *Controller) enqueuePeers(key string, ports []protoPort) {
	seen := map[string]bool{key: true}
	for _, p := range ports {
		objs, _ := c.serviceIndex.ByIndex(portIndex, p.String())
		for _, o := range objs {
			if k := serviceKey(o.(*v1.Service)); !seen[k] {
				seen[k] = true
				c.statusQueue.Add(k)
			}
		}
	}
}

// interesting: the controller serves the Service, or has left something on
// it (the finalizer, a firewall rule) that it must take back.
func (c *Controller) interesting(svc *v1.Service) bool {
	switch roleOf(svc, c.deps.Defaults.Mode) {
	case serve:
		return true
	case ignore:
		return false
	}
	if hasFinalizer(svc) {
		return true
	}
	r, known := c.view.peekAll(c.ruleNames(string(svc.UID)).all())
	return !known || r.exists()
}

// servicePorts indexes served Services by protocol and port. A Service
// over the port cap is refused before it claims anything, so it is not
// indexed: no decision reads it, and its thousands of ports cost nothing.
func (c *Controller) servicePorts(obj any) ([]string, error) {
	svc, ok := obj.(*v1.Service)
	if !ok || roleOf(svc, c.deps.Defaults.Mode) != serve || len(svc.Spec.Ports) > c.maxPorts() {
		return nil, nil
	}
	var out []string
	for _, p := range portsOf(svc) {
		out = append(out, p.String())
	}
	return out, nil
}

// serviceNodePorts indexes every Service by its node ports (nodePortsOf).
func serviceNodePorts(obj any) ([]string, error) {
	svc, ok := obj.(*v1.Service)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, p := range nodePortsOf(svc) {
		out = append(out, p.String())
	}
	return out, nil
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

// nodeChanged: something an answer depends on changed; a heartbeat alone
// (condition times, images, resources) is not that.
func nodeChanged(old, n *v1.Node) bool {
	return lbnode.Ready(old) != lbnode.Ready(n) ||
		(old.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) ||
		!equalStringMaps(old.Labels, n.Labels) ||
		!equalTaints(old.Spec.Taints, n.Spec.Taints) ||
		!equalAddresses(old.Status.Addresses, n.Status.Addresses)
}

func equalStringMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func equalTaints(a, b []v1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Value != b[i].Value || a[i].Effect != b[i].Effect {
			return false
		}
	}
	return true
}

func equalAddresses(a, b []v1.NodeAddress) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func serviceKey(svc *v1.Service) string { return svc.Namespace + "/" + svc.Name }

func splitKey(key string) (namespace, name string) {
	namespace, name, _ = strings.Cut(key, "/")
	return namespace, name
}

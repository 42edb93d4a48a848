// Package servicecontroller drives cloudprovider.LoadBalancer for Services of
// type LoadBalancer with no loadBalancerClass: it ensures each Service's load
// balancer, writes status.loadBalancer when it changes, keeps the
// service.kubernetes.io/load-balancer-cleanup finalizer, and tells load
// balancers about node changes. It is the one writer of these Services'
// LoadBalancerReady condition and of their Warning events for problems the
// owner must fix (lbcondition): the provider reports them as errors and
// writes nothing. It must not import the provider (providers/).
//
// It replaces the upstream service controller of k8s.io/cloud-provider with
// the same contract (finalizer, events, --concurrent-service-syncs, the node
// predicates of KEP-3458) and a different cost model. Upstream keeps, per
// Service, its own list of the nodes it last synced, and walks every Service
// for every node event: with 5,000 Services and 1,000 nodes that is 40 MB of
// node lists and five million list-and-compare steps when the nodes register.
// Here the eligible node set is computed once per change and summarised by a
// fingerprint; a Service remembers only the fingerprint it was last given,
// and node events coalesce into one node sync whatever their number.
//
// It never writes a Service it does not handle: Services with a
// loadBalancerClass, and Services that are not of type LoadBalancer and carry
// no cleanup finalizer, are left to their owners.
package servicecontroller

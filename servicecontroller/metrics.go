package servicecontroller

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	syncDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Name:           "cloudprovider_vpc_service_sync_duration_seconds",
		Help:           "Time to reconcile one LoadBalancer Service, by operation (ensure, update, delete) and result (success, error).",
		Buckets:        metrics.ExponentialBuckets(0.01, 2, 14),
		StabilityLevel: metrics.ALPHA,
	}, []string{"operation", "result"})
	nodeSyncs = metrics.NewCounterVec(&metrics.CounterOpts{
		Name:           "cloudprovider_vpc_node_set_changes_total",
		Help:           "Changes of the load balancers' node set, and the Services each one queued.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"kind"})
	nodeEvents = metrics.NewCounter(&metrics.CounterOpts{
		Name:           "cloudprovider_vpc_node_events_total",
		Help:           "Node events that can change the load balancers' node set; they coalesce into node-set syncs.",
		StabilityLevel: metrics.ALPHA,
	})
	nodeSetSyncs = metrics.NewCounter(&metrics.CounterOpts{
		Name:           "cloudprovider_vpc_node_set_syncs_total",
		Help:           "Looks at the load balancers' node set, each for the node events since the one before.",
		StabilityLevel: metrics.ALPHA,
	})
	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() { legacyregistry.MustRegister(syncDuration, nodeSyncs, nodeEvents, nodeSetSyncs) })
}

package nodeip

import (
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// The queues' depth, latency and retries are the workqueue metrics of
// client-go (queues nodeip_service_status and nodeip_service_firewall);
// these say how long a reconcile takes and how often it fails.
var (
	syncDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Name:           "cloudprovider_vpc_nodeip_sync_duration_seconds",
		Help:           "Time to reconcile one nodeip Service's status or one of its firewall rules, by queue (status, firewall) and result (success, error).",
		Buckets:        metrics.ExponentialBuckets(0.001, 2, 16),
		StabilityLevel: metrics.ALPHA,
	}, []string{"queue", "result"})
	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() { legacyregistry.MustRegister(syncDuration) })
}

// observeSync records one reconcile of the named queue.
func observeSync(queue string, start time.Time, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	syncDuration.WithLabelValues(queue, result).Observe(time.Since(start).Seconds())
}

package computeclient

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Per-call metrics, labelled by API method (for example "instances.get") and
// result (a Class: ok, not_found, rate_limited, ...).
var (
	requestDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Name:           "cloudprovider_vpc_api_request_duration_seconds",
		Help:           "Latency of compute API calls, by method and result; a call's retries count as one.",
		Buckets:        metrics.ExponentialBuckets(0.005, 2, 14),
		StabilityLevel: metrics.ALPHA,
	}, []string{"method", "result"})
	requestErrors = metrics.NewCounterVec(&metrics.CounterOpts{
		Name:           "cloudprovider_vpc_api_request_errors_total",
		Help:           "Compute API requests that failed, by method and result (each attempt counts).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"method", "result"})
	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(requestDuration, requestErrors)
	})
}

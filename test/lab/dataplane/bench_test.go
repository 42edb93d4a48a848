package dataplane

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	"k8s.io/klog/v2"
)

// BenchmarkFirewallChangeToRulesApplied measures how long a firewall change
// in fake-gce takes to reach the kernel: from the moment the patch request
// is sent to the end of the data plane's pass that wrote the rule into the
// vpc namespace's nftables table (long poll wake-up, observe, compile, one
// nftables batch). It reports the median and the 99th percentile, and the
// medians of the pass's two parts: reading the state (observe) and writing
// the kernel (apply); run it with -benchtime=50x for about 50 changes:
//
//	sudo go test ./test/lab/dataplane -run '^$' -bench FirewallChange -benchtime=50x
func BenchmarkFirewallChangeToRulesApplied(b *testing.B) {
	requireLab(b)
	c := startLabCloud(b)
	l := newLabNet(b)
	l.addNode(b, "10.128.0.2")
	l.addNode(b, "10.128.0.3")
	c.addInstance("node-1", "10.128.0.2", "lab-node")
	c.addInstance("node-2", "10.128.0.3", "lab-node")
	c.allowIngress("bench", []string{"198.51.100.0/32"}, "8080")

	syncs := make(chan Sync, 16)
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background()))
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Endpoint: c.HTTP.URL, Project: c.Project, Regions: []string{region}, Namespace: l.vpc.name,
			HTTPClient: c.HTTP.Client(), OnSync: func(s Sync) {
				select {
				case syncs <- s:
				case <-ctx.Done():
				}
			}})
	}()
	b.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})

	var took, observe, apply []time.Duration
	for i := 0; b.Loop(); i++ {
		source := netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%250)})
		start := time.Now()
		c.do(c.Compute.Firewalls.Patch(c.Project, "bench", &compute.Firewall{SourceRanges: []string{source.String() + "/32"}}).Do())
		want := c.Server.Generation()
		s := waitApplied(b, syncs, done, func(s Sync) bool { return s.Generation >= want && hasSource(s.Plan, "bench", source) })
		took = append(took, time.Since(start))
		observe, apply = append(observe, s.Observe), append(apply, s.Apply)
	}
	b.StopTimer()
	for _, d := range [][]time.Duration{took, observe, apply} {
		slices.Sort(d)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p50 := func(d []time.Duration) float64 { return ms(d[len(d)/2]) }
	b.ReportMetric(p50(took), "p50-ms")
	b.ReportMetric(ms(took[min(len(took)-1, len(took)*99/100)]), "p99-ms")
	b.ReportMetric(p50(observe), "observe-p50-ms")
	b.ReportMetric(p50(apply), "apply-p50-ms")
	b.ReportMetric(0, "ns/op") // 0 drops the mean, which the percentiles say better
	b.Logf("%d firewall changes: p50 %.1f ms, p99 %.1f ms, max %.1f ms; reading the state p50 %.1f ms, writing the kernel p50 %.1f ms",
		len(took), p50(took), ms(took[min(len(took)-1, len(took)*99/100)]), ms(took[len(took)-1]), p50(observe), p50(apply))
}

// waitApplied waits for the data plane's pass that satisfies applied, and
// returns it.
func waitApplied(b *testing.B, syncs <-chan Sync, done <-chan error, applied func(Sync) bool) Sync {
	b.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case s := <-syncs:
			if applied(s) {
				return s
			}
		case err := <-done:
			b.Fatalf("data plane stopped: %v", err)
		case <-timeout:
			b.Fatal("the change was not applied within 30 s")
		}
	}
}

func hasSource(p Plan, rule string, source netip.Addr) bool {
	for _, r := range p.Firewall {
		if r.Name == rule {
			return slices.Contains(r.Sources, netip.PrefixFrom(source, 32))
		}
	}
	return false
}

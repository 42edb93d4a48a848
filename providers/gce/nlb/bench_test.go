package nlb

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// BenchmarkExternalLoadBalancer measures, with operations that take 200 ms
// as on a real cloud, what a new 1-port Service on 3 nodes costs: requests
// (reads, writes, operation waits) and wall time to ready; and the same for a
// no-change resync, a node added, and the delete. Run it with
// go test -run '^$' -bench ExternalLoadBalancer -benchtime 5x -count 3
// ./providers/gce/nlb/ (three runs: their spread, each with the load
// average as it ended).
func BenchmarkExternalLoadBalancer(b *testing.B) {
	for _, step := range []string{"create", "resync", "node-add", "delete"} {
		b.Run(step, func(b *testing.B) {
			var total callCount
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				lc := newLBCloud(b, fakegce.Config{OpLatency: 200 * time.Millisecond}, "node-1", "node-2", "node-3", "node-4")
				svc := newService("web")
				nodes := nodesFor("us-central1-a", "node-1", "node-2", "node-3")
				ctx := context.Background()
				if step != "create" {
					if _, err := lc.lb().Ensure(ctx, svc, nodes); err != nil {
						b.Fatal(err)
					}
				}
				if step == "node-add" {
					nodes = nodesFor("us-central1-a", "node-1", "node-2", "node-3", "node-4")
				}
				lc.Server.ResetCalls()
				b.StartTimer()
				start := time.Now()
				var err error
				if step == "delete" {
					err = lc.lb().Delete(ctx, svc)
				} else {
					_, err = lc.lb().Ensure(ctx, svc, nodes)
				}
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				n := lc.calls()
				total.reads += n.reads
				total.writes += n.writes
				total.waits += n.waits
			}
			b.ReportMetric(float64(total.reads)/float64(b.N), "reads/op")
			b.ReportMetric(float64(total.writes)/float64(b.N), "writes/op")
			b.ReportMetric(float64(total.waits)/float64(b.N), "waits/op")
			b.ReportMetric(float64(total.reads+total.writes+total.waits)/float64(b.N), "requests/op")
			b.ReportMetric(elapsed.Seconds()/float64(b.N), "s-to-ready/op")
			if l, ok := loadAverage1m(); ok {
				b.ReportMetric(l, "loadavg-1m")
			}
		})
	}
}

// loadAverage1m is the machine's 1-minute load average from /proc/loadavg,
// reported next to the figures: the wall times follow the CPU the
// benchmark gets.
func loadAverage1m() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return l, err == nil
}

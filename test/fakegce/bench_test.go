package fakegce_test

// Benchmarks of fake-gce through the official Go client over loopback HTTP.
// Targets on a 2-core machine: 5,000 GETs/s, 1,000 inserts/s (each with its
// operation, OpLatency 0), and a filtered list of 10,000 firewalls in under 50 ms.
//
//	go test ./test/fakegce -run '^$' -bench . -benchtime 2s

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

func BenchmarkGetFirewall(b *testing.B) {
	c := start(b)
	defaultNetwork(b, c)
	insertFirewall(b, c, newFirewall("fw", withTargetTags("web"), withSourceRanges("10.0.0.0/8")))
	b.ReportAllocs()
	b.ResetTimer()
	begin := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := c.Compute.Firewalls.Get(c.Project, "fw").Do(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "gets/s")
}

// BenchmarkInsertFirewall inserts firewalls, each answered with its DONE
// operation; the second variant sends a requestId, as the CCM's client does,
// which the server must look up among every operation it keeps.
func BenchmarkInsertFirewall(b *testing.B) {
	for _, withRequestID := range []bool{false, true} {
		name := "plain"
		if withRequestID {
			name = "with requestId"
		}
		b.Run(name, func(b *testing.B) {
			c := start(b)
			defaultNetwork(b, c)
			b.ReportAllocs()
			b.ResetTimer()
			begin := time.Now()
			for i := 0; i < b.N; i++ {
				call := c.Compute.Firewalls.Insert(c.Project, newFirewall(fmt.Sprintf("fw-%d", i)))
				if withRequestID {
					call = call.RequestId(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
				}
				op, err := call.Do()
				if err != nil {
					b.Fatal(err)
				}
				if op.Status != "DONE" || op.Error != nil {
					b.Fatalf("operation %s: %s", op.Status, opErrorText(op))
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "inserts/s")
		})
	}
}

func BenchmarkListFiltered10000(b *testing.B) {
	c := start(b)
	defaultNetwork(b, c)
	insertManyFirewalls(b, c, 10000)
	// 100 of the 10,000 names match.
	const filter = "name eq k8s-fw-001.*"
	b.ReportAllocs()
	b.ResetTimer()
	begin := time.Now()
	for i := 0; i < b.N; i++ {
		l, err := c.Compute.Firewalls.List(c.Project).Filter(filter).Do()
		if err != nil {
			b.Fatal(err)
		}
		if len(l.Items) != 100 {
			b.Fatalf("filter matched %d firewalls, want 100", len(l.Items))
		}
	}
	b.ReportMetric(float64(time.Since(begin).Microseconds())/1000/float64(b.N), "ms/list")
}

// insertManyFirewalls inserts k8s-fw-00000 ... through the client, from a few
// goroutines.
func insertManyFirewalls(b *testing.B, c *fakegcetest.Cloud, n int) {
	b.Helper()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fw := newFirewall(fmt.Sprintf("k8s-fw-%05d", i), withTargetTags(fmt.Sprintf("node-%d", i%50)))
				fw.Allowed = []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{fmt.Sprint(30000 + i%2000)}}}
				if _, err := c.Compute.Firewalls.Insert(c.Project, fw).Do(); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

package dataplane

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// dialFunc opens a TCP connection from a checker address to a backend.
type dialFunc func(ctx context.Context, src netip.Addr, dst netip.AddrPort) (net.Conn, error)

// prober runs one goroutine per Probe at the probe's interval and keeps the
// health each one has decided, with GCE's thresholds: healthy after
// HealthyThreshold successes in a row, unhealthy after UnhealthyThreshold
// failures in a row, and unhealthy until the first decision.
type prober struct {
	dial    dialFunc
	logger  klog.Logger
	changed chan struct{} // receives (without blocking) when a result changes

	mu      sync.Mutex
	runs    map[Probe]context.CancelFunc
	results map[HealthKey]bool
	wg      sync.WaitGroup
}

func newProber(dial dialFunc, logger klog.Logger) *prober {
	return &prober{dial: dial, logger: logger, changed: make(chan struct{}, 1),
		runs: map[Probe]context.CancelFunc{}, results: map[HealthKey]bool{}}
}

// set makes the running probes those of probes: it starts the new ones,
// stops the others, and forgets the results no probe decides any more.
func (p *prober) set(probes []Probe) {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[Probe]bool{}
	keys := map[HealthKey]bool{}
	for _, pr := range probes {
		want[pr] = true
		keys[pr.key()] = true
	}
	for pr, cancel := range p.runs {
		if !want[pr] {
			cancel()
			delete(p.runs, pr)
		}
	}
	changed := false
	for k := range p.results {
		if !keys[k] {
			delete(p.results, k)
			changed = true
		}
	}
	for pr := range want {
		if _, ok := p.runs[pr]; ok {
			continue
		}
		k := pr.key()
		if _, ok := p.results[k]; !ok {
			p.results[k] = false
			changed = true
		}
		ctx, cancel := context.WithCancel(context.Background())
		p.runs[pr] = cancel
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.run(ctx, pr)
		}()
	}
	if changed {
		p.notify()
	}
}

// stop ends every probe and waits for them.
func (p *prober) stop() {
	p.set(nil)
	p.wg.Wait()
}

// snapshot returns the current results.
func (p *prober) snapshot() map[HealthKey]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.results)
}

func (p *prober) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *prober) record(ctx context.Context, k HealthKey, healthy bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() != nil {
		return // stopped: a newer probe of the same key may own the result
	}
	if old, ok := p.results[k]; !ok || old != healthy {
		p.results[k] = healthy
		p.logger.V(2).Info("Backend health changed", "check", k.Check, "instance", k.Instance, "ipv6", k.IPv6, "healthy", healthy)
		p.notify()
	}
}

func (p *prober) run(ctx context.Context, pr Probe) {
	k := pr.key()
	client := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return p.dial(ctx, pr.Source, pr.Target) },
		DisableKeepAlives: true,
	}}
	defer client.CloseIdleConnections()
	passed, failed := 0, 0
	tick := time.NewTicker(pr.Interval)
	defer tick.Stop()
	for {
		if p.probeOnce(ctx, client, pr) {
			passed, failed = passed+1, 0
		} else {
			passed, failed = 0, failed+1
		}
		switch {
		case passed >= pr.HealthyThreshold:
			p.record(ctx, k, true)
		case failed >= pr.UnhealthyThreshold:
			p.record(ctx, k, false)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeOnce is one check: a TCP connect, or an HTTP GET that must answer 200.
func (p *prober) probeOnce(ctx context.Context, client *http.Client, pr Probe) bool {
	ctx, cancel := context.WithTimeout(ctx, pr.Timeout)
	defer cancel()
	if pr.HTTPPath == "" {
		conn, err := p.dial(ctx, pr.Source, pr.Target)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pr.Target.String()+pr.HTTPPath, nil)
	if err != nil {
		return false
	}
	if pr.Host != "" {
		req.Host = pr.Host
	}
	req.Header.Set("User-Agent", "GoogleHC/1.0")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode == http.StatusOK
}

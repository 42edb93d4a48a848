package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// statusLatency measures, through a watch on the API server, the time from
// a Service's creation request to the first time it is seen with an
// address: what a user of the whole CCM waits for.
type statusLatency struct {
	mu        sync.Mutex
	createdAt map[string]time.Time
	seen      map[string]time.Duration
	// firstCreated and lastSeen bound the whole batch: the first creation
	// request and the last address the watch saw.
	firstCreated, lastSeen time.Time
	// done is closed once want Services have been seen with an address.
	done chan struct{}
}

func watchStatusLatency(ctx context.Context, cp *cluster.ControlPlane, want int) (*statusLatency, error) {
	w, err := cp.Admin.CoreV1().Services("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("watch Services: %w", err)
	}
	l := &statusLatency{createdAt: make(map[string]time.Time, want), seen: make(map[string]time.Duration, want), done: make(chan struct{})}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			svc, ok := ev.Object.(*v1.Service)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) || len(svc.Status.LoadBalancer.Ingress) == 0 {
				continue
			}
			now := time.Now()
			l.mu.Lock()
			if _, done := l.seen[svc.Name]; !done {
				if t, ok := l.createdAt[svc.Name]; ok {
					l.seen[svc.Name] = now.Sub(t)
					l.lastSeen = now
				}
			}
			n := len(l.seen)
			l.mu.Unlock()
			if n >= want {
				close(l.done)
				return
			}
		}
	}()
	return l, nil
}

// created records the moment a Service's creation is requested.
func (l *statusLatency) created(name string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.createdAt[name] = now
	if l.firstCreated.IsZero() || now.Before(l.firstCreated) {
		l.firstCreated = now
	}
}

// allReadyAfter is the time from the first creation request to the last
// Service seen with its address.
func (l *statusLatency) allReadyAfter() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastSeen.Sub(l.firstCreated)
}

func (l *statusLatency) ready() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func (l *statusLatency) percentiles() (p50, p99 time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := make([]time.Duration, 0, len(l.seen))
	for _, d := range l.seen {
		all = append(all, d)
	}
	return percentile(all, 0.5), percentile(all, 0.99)
}

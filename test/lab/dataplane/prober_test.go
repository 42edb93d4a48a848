package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/klog/v2/ktesting"
)

// loopbackDial ignores the checker address: these tests probe servers on
// loopback, in the test's own namespace.
func loopbackDial(ctx context.Context, _ netip.Addr, dst netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", dst.String())
}

func loopbackProbe(t *testing.T, url string, path string) Probe {
	t.Helper()
	ap, err := netip.ParseAddrPort(url)
	if err != nil {
		t.Fatal(err)
	}
	return Probe{Check: "projects/p/global/httpHealthChecks/hc", Instance: instancePath("vm1"), Target: ap,
		HTTPPath: path, Interval: 10 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}
}

func waitHealth(t *testing.T, p *prober, k HealthKey, want bool) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("health of %s = %v", k.Instance, want), func() error {
		got, ok := p.snapshot()[k]
		if !ok || got != want {
			return fmt.Errorf("health is %v (known: %v)", got, ok)
		}
		return nil
	})
}

func TestProberFollowsAnHTTPCheckWithItsThresholds(t *testing.T) {
	var up atomic.Bool
	up.Store(true)
	var hosts atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host)
		if r.URL.Path == "/healthz" && up.Load() {
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	logger, _ := ktesting.NewTestContext(t)
	p := newProber(loopbackDial, logger)
	defer p.stop()
	pr := loopbackProbe(t, srv.Listener.Addr().String(), "/healthz")
	pr.Host = "lb.example"
	k := pr.key()

	p.set([]Probe{pr})
	if got, ok := p.snapshot()[k]; !ok || got {
		t.Errorf("health before the first decision = %v (known: %v), want unhealthy", got, ok)
	}
	waitHealth(t, p, k, true)
	if h, _ := hosts.Load().(string); h != "lb.example" {
		t.Errorf("probe sent Host %q, want the check's host", h)
	}
	up.Store(false)
	waitHealth(t, p, k, false)
	up.Store(true)
	waitHealth(t, p, k, true)

	p.set(nil)
	if _, ok := p.snapshot()[k]; ok {
		t.Error("the result of a probe no longer wanted is still there")
	}
}

func TestProberCountsARefusedTCPConnectAsAFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				c.Close()
			}
		}
	}()
	logger, _ := ktesting.NewTestContext(t)
	p := newProber(loopbackDial, logger)
	defer p.stop()
	pr := loopbackProbe(t, addr, "")
	k := pr.key()
	p.set([]Probe{pr})
	waitHealth(t, p, k, true)
	ln.Close()
	waitHealth(t, p, k, false)
}

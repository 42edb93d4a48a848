package topology

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// nsDir is where named network namespaces are bind-mounted, as by
// `ip netns add`, so that `ip netns exec NAME` finds the lab's too.
const nsDir = "/run/netns"

// Exec runs fn inside the named network namespace ns, on an OS thread of
// its own that is locked for the call. Sockets that fn creates stay in ns
// whichever thread later uses them, so a listener or connection made inside
// Exec may be used anywhere. A thread that cannot be moved back to the host
// namespace is discarded rather than handed back to the scheduler.
func Exec(ns string, fn func() error) error {
	target, err := netns.GetFromPath(filepath.Join(nsDir, ns))
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		host, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer host.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := netns.Set(host); err != nil {
			// Still locked: the thread ends with this goroutine.
			errc <- fmt.Errorf("leave network namespace %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Listen is net.Listen inside the network namespace ns.
func Listen(ns, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := Exec(ns, func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s %s in %s: %w", network, addr, ns, err)
	}
	return l, nil
}

// Dial connects from inside the network namespace ns, from source address
// src when it is valid (the kernel chooses otherwise).
func Dial(ctx context.Context, ns string, src netip.Addr, network, addr string) (net.Conn, error) {
	d := net.Dialer{}
	if src.IsValid() {
		switch network {
		case "udp", "udp4", "udp6":
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		default:
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
	}
	var c net.Conn
	err := Exec(ns, func() (err error) {
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClient is an HTTP client whose connections start inside ns, from src
// when it is valid. It keeps no connection alive between requests, so each
// request is a new flow (a new choice for a load balancer).
func HTTPClient(ns string, src netip.Addr, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		Proxy:             nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return Dial(ctx, ns, src, network, addr)
		},
	}}
}

// createNamespace makes the named network namespace ns, as `ip netns add`
// does, without entering it.
func createNamespace(ns string) error {
	if err := os.MkdirAll(nsDir, 0o755); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		host, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer host.Close()
		h, err := netns.NewNamed(ns)
		if err == nil {
			h.Close()
		}
		if serr := netns.Set(host); serr != nil {
			errc <- fmt.Errorf("back to the host namespace: %w", serr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("create network namespace %s: %w", ns, err)
	}
	return nil
}

// namespaceNames lists the named network namespaces.
func namespaceNames() ([]string, error) {
	entries, err := os.ReadDir(nsDir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}

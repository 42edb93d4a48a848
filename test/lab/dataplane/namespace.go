package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// checkerLink is the dummy interface of the vpc namespace that holds the
// health checkers' source addresses.
const checkerLink = "hc"

// namespace is the vpc network namespace and a netlink handle into it.
type namespace struct {
	ns netns.NsHandle
	nl *netlink.Handle
}

// openNamespace opens a namespace by name (under /run/netns, as "ip netns"
// names them) or by path.
func openNamespace(name string) (*namespace, error) {
	get := netns.GetFromName
	if strings.Contains(name, "/") {
		get = netns.GetFromPath
	}
	ns, err := get(name)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink handle in network namespace %s: %w", name, err)
	}
	return &namespace{ns: ns, nl: h}, nil
}

func (n *namespace) close() {
	n.nl.Close()
	n.ns.Close()
}

// runIn runs fn on an OS thread that has entered the namespace ns. Sockets
// fn creates belong to that namespace for their whole life. The thread is
// never returned to the scheduler: when fn returns, its goroutine ends with
// the thread still locked, and the runtime ends the thread, so no other
// goroutine ever runs in the namespace by accident.
func runIn(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// dial opens a TCP connection from the namespace, from a source address.
func (n *namespace) dial(ctx context.Context, src netip.Addr, dst netip.AddrPort) (net.Conn, error) {
	var conn net.Conn
	err := runIn(n.ns, func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
		var err error
		conn, err = d.DialContext(ctx, "tcp", dst.String())
		return err
	})
	return conn, err
}

// writeSysctls sets net sysctls of the namespace (paths under /proc/sys/net/).
// /proc/sys/net shows the namespace of the thread that opens the file.
func (n *namespace) writeSysctls(values map[string]string) error {
	return runIn(n.ns, func() error {
		var errs []error
		for path, v := range values {
			if err := os.WriteFile("/proc/sys/net/"+path, []byte(v), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("set net.%s=%s: %w", strings.ReplaceAll(path, "/", "."), v, err))
			}
		}
		return errors.Join(errs...)
	})
}

// prepare makes the namespace a router the data plane can program: IPv4
// forwarding on; reverse-path filtering off on every link, because a
// passthrough backend answers from the forwarding rule's address, which no
// route of the namespace leads back to (the instance links get theirs set
// as they appear, in relaxReversePath); and the health checkers' addresses,
// IPv4 and IPv6, on the link "hc". IPv6 forwarding stays off: the only IPv6
// the namespace carries is its own probes.
func (n *namespace) prepare() error {
	if err := n.writeSysctls(map[string]string{
		"ipv4/ip_forward":             "1",
		"ipv4/conf/all/rp_filter":     "0",
		"ipv4/conf/default/rp_filter": "0",
	}); err != nil {
		return err
	}
	lo, err := n.nl.LinkByName("lo")
	if err == nil {
		err = n.nl.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	hc, err := n.checkerLink(lo)
	if err != nil {
		return err
	}
	for _, a := range checkerSources {
		addr := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(a, a.BitLen()))}
		if a.Is6() {
			addr.Flags = unix.IFA_F_NODAD // usable at once, not tentative for a second
		}
		if err := n.nl.AddrReplace(hc, addr); err != nil {
			return fmt.Errorf("add address %s to %s: %w", a, hc.Attrs().Name, err)
		}
	}
	if err := n.nl.LinkSetUp(hc); err != nil {
		return fmt.Errorf("set %s up: %w", hc.Attrs().Name, err)
	}
	return nil
}

// checkerLink returns the dummy link "hc" for the checkers' addresses,
// adding it when missing; on a kernel without dummy links it returns lo,
// where the addresses serve as well (they are local either way, and never
// leave the namespace but as probe sources).
func (n *namespace) checkerLink(lo netlink.Link) (netlink.Link, error) {
	if hc, err := n.nl.LinkByName(checkerLink); err == nil {
		return hc, nil
	}
	err := n.nl.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: checkerLink}})
	switch {
	case errors.Is(err, unix.EOPNOTSUPP):
		return lo, nil
	case err != nil && !errors.Is(err, unix.EEXIST):
		return nil, fmt.Errorf("add dummy link %s: %w", checkerLink, err)
	}
	hc, err := n.nl.LinkByName(checkerLink)
	if err != nil {
		return nil, fmt.Errorf("get link %s: %w", checkerLink, err)
	}
	return hc, nil
}

// relaxReversePath turns reverse-path filtering off on instance links (the
// kernel uses the larger of "all" and the link's own value).
func (n *namespace) relaxReversePath(links []string) error {
	values := map[string]string{}
	for _, l := range links {
		values["ipv4/conf/"+l+"/rp_filter"] = "0"
	}
	return n.writeSysctls(values)
}

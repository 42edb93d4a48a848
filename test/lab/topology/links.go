package topology

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netNS is an open network namespace with a netlink handle inside it.
type netNS struct {
	name string // "" for the host namespace
	fd   netns.NsHandle
	nl   *netlink.Handle
}

// openNamespace opens the named namespace ns.
func openNamespace(ns string) (*netNS, error) {
	fd, err := netns.GetFromPath(filepath.Join(nsDir, ns))
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	return newNetNS(ns, fd)
}

// openHostNamespace opens the namespace of this process's main thread.
func openHostNamespace() (*netNS, error) {
	fd, err := netns.GetFromPid(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("open the host network namespace: %w", err)
	}
	return newNetNS("", fd)
}

func newNetNS(name string, fd netns.NsHandle) (*netNS, error) {
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("netlink in network namespace %q: %w", name, err)
	}
	return &netNS{name: name, fd: fd, nl: h}, nil
}

func (n *netNS) close() {
	n.nl.Close()
	n.fd.Close()
}

func (n *netNS) String() string {
	if n.name == "" {
		return "the host namespace"
	}
	return n.name
}

// addVeth creates a veth pair: aName in a, its peer bName in b, both up.
// The kernel creates each end in its own namespace, so both may be named
// eth0 at once.
func addVeth(a *netNS, aName string, b *netNS, bName string) error {
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: aName}, PeerName: bName, PeerNamespace: netlink.NsFd(int(b.fd))}
	if err := a.nl.LinkAdd(v); err != nil {
		return fmt.Errorf("add veth %s (%s) - %s (%s): %w", aName, a, bName, b, err)
	}
	if err := a.setUp(aName); err != nil {
		return err
	}
	return b.setUp(bName)
}

// addBridge creates a bridge in n, up.
func (n *netNS) addBridge(name string) error {
	if err := n.nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return fmt.Errorf("add bridge %s in %s: %w", name, n, err)
	}
	return n.setUp(name)
}

// enslave attaches link dev to bridge br.
func (n *netNS) enslave(dev, br string) error {
	l, err := n.link(dev)
	if err != nil {
		return err
	}
	b, err := n.link(br)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetMaster(l, b); err != nil {
		return fmt.Errorf("attach %s to bridge %s in %s: %w", dev, br, n, err)
	}
	return nil
}

func (n *netNS) link(dev string) (netlink.Link, error) {
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		return nil, fmt.Errorf("find link %s in %s: %w", dev, n, err)
	}
	return l, nil
}

func (n *netNS) setUp(dev string) error {
	l, err := n.link(dev)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetUp(l); err != nil {
		return fmt.Errorf("set link %s up in %s: %w", dev, n, err)
	}
	return nil
}

// addAddr puts address p (address and prefix length) on dev. An IPv6
// address skips duplicate address detection (nodad), which would hold it
// tentative (unusable) for a second.
func (n *netNS) addAddr(dev string, p netip.Prefix) error {
	l, err := n.link(dev)
	if err != nil {
		return err
	}
	addr := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() {
		addr.Flags = unix.IFA_F_NODAD
	}
	if err := n.nl.AddrAdd(l, addr); err != nil {
		return fmt.Errorf("add address %s to %s in %s: %w", p, dev, n, err)
	}
	return nil
}

// delAddr takes address p off dev.
func (n *netNS) delAddr(dev string, p netip.Prefix) error {
	l, err := n.link(dev)
	if err != nil {
		return err
	}
	if err := n.nl.AddrDel(l, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
		return fmt.Errorf("delete address %s from %s in %s: %w", p, dev, n, err)
	}
	return nil
}

// addRoute adds a route to dst out of dev: through gw when it is valid,
// else on the link (scope link), as `ip route add DST dev DEV`.
func (n *netNS) addRoute(dev string, dst netip.Prefix, gw netip.Addr) error {
	l, err := n.link(dev)
	if err != nil {
		return err
	}
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: ipNet(dst)}
	if gw.IsValid() {
		r.Gw = gw.AsSlice()
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	if err := n.nl.RouteAdd(r); err != nil {
		return fmt.Errorf("add route %s via %v dev %s in %s: %w", dst, gw, dev, n, err)
	}
	return nil
}

// deleteLink removes dev from n (and a veth's peer with it); a link that
// is already gone is no error.
func (n *netNS) deleteLink(dev string) error {
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return fmt.Errorf("find link %s in %s: %w", dev, n, err)
	}
	if err := n.nl.LinkDel(l); err != nil {
		return fmt.Errorf("delete link %s in %s: %w", dev, n, err)
	}
	return nil
}

// linkNames lists the links of n.
func (n *netNS) linkNames() ([]string, error) {
	links, err := n.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links in %s: %w", n, err)
	}
	var out []string
	for _, l := range links {
		out = append(out, l.Attrs().Name)
	}
	return out, nil
}

// setSysctls writes net sysctls (net.ipv4.ip_forward=1 is
// {"net.ipv4.ip_forward": "1"}) inside namespace ns: the kernel resolves
// /proc/sys/net for the writing thread's namespace.
func setSysctls(ns string, kv map[string]string) error {
	return Exec(ns, func() error {
		for k, v := range kv {
			path := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
			if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s in %s: %w", k, v, ns, err)
			}
		}
		return nil
	})
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// unmountNamespace removes a namespace's name even when its bind mount is
// already gone (a crash between the two steps of creating it).
func unmountNamespace(ns string) error {
	path := filepath.Join(nsDir, ns)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", ns, err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove network namespace %s: %w", ns, err)
	}
	return nil
}

// overlappingRoutes lists n's routes, in every table, whose destination
// overlaps p; the default route does not count.
func (n *netNS) overlappingRoutes(p netip.Prefix) ([]string, error) {
	routes, err := n.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes in %s: %w", n, err)
	}
	var out []string
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		if !ok || ones == 0 {
			continue
		}
		if netip.PrefixFrom(dst.Unmap(), ones).Overlaps(p) {
			out = append(out, r.String())
		}
	}
	return out, nil
}

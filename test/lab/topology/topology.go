package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The contract's addresses (docs/lab.md).
var (
	// Gateway is the VPC router's address on every instance link, the
	// subnetwork's gateway (10.128.0.0/20).
	Gateway = netip.MustParseAddr("10.128.0.1")
	// ClientGateway is the VPC router's side of the client link.
	ClientGateway = netip.MustParsePrefix("198.51.100.1/24")
	// ClientAddr is the client's first address.
	ClientAddr = netip.MustParsePrefix("198.51.100.10/24")
	// DefaultMgmtSubnet is the management link: the host bridge has its
	// first address (198.18.0.1, where kube-apiserver listens), node N has
	// the (10+N)th. It lives in the host namespace, so it must be a range
	// the machine itself does not use: the benchmarking range (RFC 2544)
	// rather than a documentation range, which a machine's own network may
	// be numbered from. Up refuses a subnet that overlaps a host route.
	DefaultMgmtSubnet = netip.MustParsePrefix("198.18.0.0/24")
	// PodPort is where every pod's echo server listens.
	PodPort = 8080
	// GatewayIPv6 is the VPC router's link-local address on every instance
	// link, the default gateway of instances with an IPv6 address (GCE's is
	// link-local too).
	GatewayIPv6 = netip.MustParseAddr("fe80::1")
)

// NodeSpec is one node: an instance of the fake VPC.
type NodeSpec struct {
	Name       string       // the Node's and the instance's name, node-N
	InternalIP netip.Addr   // the instance's networkIP, in 10.128.0.0/20
	PodCIDR    netip.Prefix // the Node's spec.podCIDR, 10.64.N.0/24
	// IPv6 is the instance's ipv6Address on a dual-stack subnetwork, or
	// zero. The lab carries IPv6 between the vpc namespace and the node
	// only: the health checkers' probes of IPv6 forwarding rules.
	IPv6 netip.Addr
}

// Config says what to build.
type Config struct {
	// Prefix starts every name (empty: PrefixFor(os.Getpid())).
	Prefix string
	// Nodes are node 1, 2, ... in order (at most 9).
	Nodes []NodeSpec
	// VMs are instances of the VPC that are no nodes (at most 9): a
	// namespace each, linked to the VPC router as a node is, with no pods
	// and no management link. Their links in the vpc namespace follow the
	// nodes': i-(len(Nodes)+1), ...
	VMs []VMSpec
	// MgmtSubnet is the management link's subnet (empty:
	// DefaultMgmtSubnet). It must not overlap any route of the host
	// namespace, including another running lab's bridge.
	MgmtSubnet netip.Prefix
}

// VMSpec is an instance that runs no Kubernetes: a client inside the VPC.
type VMSpec struct {
	Name       string     // the instance's name
	InternalIP netip.Addr // its networkIP, in 10.128.0.0/20
}

// VM is a VM's namespace.
type VM struct {
	VMSpec
	Index int    // its link in the vpc namespace is i-Index
	NS    string // its namespace
}

// Lab is a built topology. Its namespace names are for Exec, Listen, Dial
// and `ip netns exec`.
type Lab struct {
	Prefix string
	VPC    string // the VPC router's namespace
	Client string // the client's namespace
	Bridge string // the management bridge, in the host namespace
	// MgmtAddr is the bridge's address: where the nodes reach the host.
	MgmtAddr netip.Addr
	Nodes    []*Node
	VMs      []*VM

	mgmt netip.Prefix
	mu   sync.Mutex
	pods []*Pod
}

// Node is a node's namespace.
type Node struct {
	NodeSpec
	Index  int    // N of node-N: its link in the vpc namespace is i-N
	NS     string // its namespace
	MgmtIP netip.Addr

	mu       sync.Mutex
	nextPod  int
	mgmtLink string // the host end of its management veth
}

// Node returns the node named name, or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Up cleans up the leftovers of crashed runs (CleanLeftovers), then builds
// the topology. On error, it removes what it built.
func Up(cfg Config) (*Lab, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	if err := CleanLeftovers(); err != nil {
		return nil, err
	}
	p := cfg.Prefix
	l := &Lab{Prefix: p, VPC: p + "vpc", Client: p + "client", Bridge: p + "mgmt", mgmt: cfg.MgmtSubnet,
		MgmtAddr: cfg.MgmtSubnet.Addr().Next()}
	for i, s := range cfg.Nodes {
		n := &Node{NodeSpec: s, Index: i + 1, NS: p + s.Name, mgmtLink: p + "m" + strconv.Itoa(i+1)}
		n.MgmtIP = nthAddr(cfg.MgmtSubnet.Addr(), 10+n.Index)
		l.Nodes = append(l.Nodes, n)
	}
	for i, s := range cfg.VMs {
		l.VMs = append(l.VMs, &VM{VMSpec: s, Index: len(cfg.Nodes) + i + 1, NS: p + s.Name})
	}
	if err := l.build(); err != nil {
		return nil, errors.Join(err, l.Down())
	}
	return l, nil
}

func validate(cfg *Config) error {
	if cfg.Prefix == "" {
		cfg.Prefix = PrefixFor(os.Getpid())
	}
	if _, ok := ownerPID(cfg.Prefix); !ok || cfg.Prefix[len(cfg.Prefix)-1] != '-' {
		return fmt.Errorf("topology prefix %q: not made by PrefixFor, so CleanLeftovers could not find its names", cfg.Prefix)
	}
	if !cfg.MgmtSubnet.IsValid() {
		cfg.MgmtSubnet = DefaultMgmtSubnet
	}
	cfg.MgmtSubnet = cfg.MgmtSubnet.Masked()
	if len(cfg.Nodes) > 9 || len(cfg.VMs) > 9 || cfg.MgmtSubnet.Bits() > 27 {
		return fmt.Errorf("topology: %d nodes and %d VMs in management subnet %s: want at most 9 of each and a /27 or larger",
			len(cfg.Nodes), len(cfg.VMs), cfg.MgmtSubnet)
	}
	for _, n := range cfg.Nodes {
		if n.Name == "" || !n.InternalIP.Is4() || !n.PodCIDR.IsValid() || n.PodCIDR.Bits() > 24 {
			return fmt.Errorf("topology node %+v: want a name, an IPv4 internal address and a pod CIDR of /24 or larger", n)
		}
		if n.IPv6.IsValid() && (!n.IPv6.Is6() || n.IPv6.Is4In6() || n.IPv6.IsLinkLocalUnicast()) {
			return fmt.Errorf("topology node %s: IPv6 address %s: want a global IPv6 address, or none", n.Name, n.IPv6)
		}
	}
	seen := map[string]bool{}
	for _, n := range cfg.Nodes {
		seen[n.Name] = true
	}
	for _, v := range cfg.VMs {
		if v.Name == "" || !v.InternalIP.Is4() || seen[v.Name] || v.Name == "vpc" || v.Name == "client" {
			return fmt.Errorf("topology VM %+v: want a name of its own and an IPv4 internal address", v)
		}
		seen[v.Name] = true
	}
	return nil
}

// nthAddr is base + n.
func nthAddr(base netip.Addr, n int) netip.Addr {
	a := base
	for i := 0; i < n; i++ {
		a = a.Next()
	}
	return a
}

// build makes the namespaces, links, addresses and routes of the contract.
func (l *Lab) build() error {
	host, err := openHostNamespace()
	if err != nil {
		return err
	}
	defer host.close()
	// The bridge's subnet becomes a host route: never shadow one the
	// machine (or another lab) relies on.
	clash, err := host.overlappingRoutes(l.mgmt)
	if err != nil {
		return err
	}
	if len(clash) > 0 {
		return fmt.Errorf("management subnet %s overlaps the host's routes %v: choose another Config.MgmtSubnet", l.mgmt, clash)
	}
	names := []string{l.VPC, l.Client}
	for _, n := range l.Nodes {
		names = append(names, n.NS)
	}
	for _, v := range l.VMs {
		names = append(names, v.NS)
	}
	open := map[string]*netNS{}
	defer func() {
		for _, ns := range open {
			ns.close()
		}
	}()
	for _, name := range names {
		if err := createNamespace(name); err != nil {
			return err
		}
		ns, err := openNamespace(name)
		if err != nil {
			return err
		}
		open[name] = ns
		if err := ns.setUp("lo"); err != nil {
			return err
		}
	}
	vpc, client := open[l.VPC], open[l.Client]
	// The VPC router forwards; the contract's node namespaces forward for
	// their pods, and kube-proxy's iptables mode needs route_localnet for
	// NodePorts on 127.0.0.1. rp_filter is off so that the data plane's
	// policy routing (passthrough load balancing) is not second-guessed.
	if err := setSysctls(l.VPC, map[string]string{"net.ipv4.ip_forward": "1",
		"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0"}); err != nil {
		return err
	}
	for _, n := range l.Nodes {
		if err := setSysctls(n.NS, map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.route_localnet": "1",
			"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0"}); err != nil {
			return err
		}
		if err := linkInstance(vpc, open[n.NS], n.Index, n.InternalIP); err != nil {
			return err
		}
		if n.IPv6.IsValid() {
			if err := linkInstanceIPv6(vpc, open[n.NS], n.Index, n.IPv6); err != nil {
				return err
			}
		}
	}
	for _, v := range l.VMs {
		if err := linkInstance(vpc, open[v.NS], v.Index, v.InternalIP); err != nil {
			return err
		}
	}
	if err := l.linkClient(vpc, client); err != nil {
		return err
	}
	return l.linkMgmt(host, open)
}

// linkInstance joins an instance (a node or a VM) to the VPC router: vpc
// "i-N" 10.128.0.1/32 - instance "eth0" INTERNAL-IP/32, a host route to
// the instance in vpc, and in the instance a route to the gateway on the
// link and the default route through it.
func linkInstance(vpc, inst *netNS, index int, internalIP netip.Addr) error {
	vpcDev := "i-" + strconv.Itoa(index)
	if err := addVeth(vpc, vpcDev, inst, "eth0"); err != nil {
		return err
	}
	steps := []func() error{
		func() error { return vpc.addAddr(vpcDev, netip.PrefixFrom(Gateway, 32)) },
		func() error { return vpc.addRoute(vpcDev, netip.PrefixFrom(internalIP, 32), netip.Addr{}) },
		func() error { return inst.addAddr("eth0", netip.PrefixFrom(internalIP, 32)) },
		func() error { return inst.addRoute("eth0", netip.PrefixFrom(Gateway, 32), netip.Addr{}) },
		func() error { return inst.addRoute("eth0", netip.MustParsePrefix("0.0.0.0/0"), Gateway) },
	}
	return run(steps)
}

// linkInstanceIPv6 adds IPv6 to an instance's link: vpc "i-N" fe80::1/64 -
// instance "eth0" IPV6/128, a route to the instance in vpc, and in the
// instance the default route through fe80::1.
func linkInstanceIPv6(vpc, inst *netNS, index int, ip netip.Addr) error {
	vpcDev := "i-" + strconv.Itoa(index)
	return run([]func() error{
		func() error { return vpc.addAddr(vpcDev, netip.PrefixFrom(GatewayIPv6, 64)) },
		func() error { return vpc.addRoute(vpcDev, netip.PrefixFrom(ip, 128), netip.Addr{}) },
		func() error { return inst.addAddr("eth0", netip.PrefixFrom(ip, 128)) },
		func() error { return inst.addRoute("eth0", netip.MustParsePrefix("::/0"), GatewayIPv6) },
	})
}

// linkClient joins the client to the VPC router: vpc "client"
// 198.51.100.1/24 - client "eth0" 198.51.100.10/24, default via the router.
func (l *Lab) linkClient(vpc, client *netNS) error {
	if err := addVeth(vpc, "client", client, "eth0"); err != nil {
		return err
	}
	return run([]func() error{
		func() error { return vpc.addAddr("client", ClientGateway) },
		func() error { return client.addAddr("eth0", ClientAddr) },
		func() error { return client.addRoute("eth0", netip.MustParsePrefix("0.0.0.0/0"), ClientGateway.Addr()) },
	})
}

// linkMgmt makes the management bridge in the host namespace and a veth
// from it to each node ("mgmt" there).
func (l *Lab) linkMgmt(host *netNS, open map[string]*netNS) error {
	if err := host.addBridge(l.Bridge); err != nil {
		return err
	}
	if err := host.addAddr(l.Bridge, netip.PrefixFrom(l.MgmtAddr, l.mgmt.Bits())); err != nil {
		return err
	}
	for _, n := range l.Nodes {
		node := open[n.NS]
		err := run([]func() error{
			func() error { return addVeth(host, n.mgmtLink, node, "mgmt") },
			func() error { return host.enslave(n.mgmtLink, l.Bridge) },
			func() error { return node.addAddr("mgmt", netip.PrefixFrom(n.MgmtIP, l.mgmt.Bits())) },
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// AddClientAddress puts another address (such as 198.51.100.20/24) on the
// client's eth0, for tests of source ranges.
func (l *Lab) AddClientAddress(p netip.Prefix) error {
	client, err := openNamespace(l.Client)
	if err != nil {
		return err
	}
	defer client.close()
	return client.addAddr("eth0", p)
}

// RemoveClientAddress takes an address added by AddClientAddress away.
func (l *Lab) RemoveClientAddress(p netip.Prefix) error {
	client, err := openNamespace(l.Client)
	if err != nil {
		return err
	}
	defer client.close()
	return client.delAddr("eth0", p)
}

func run(steps []func() error) error {
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// Down stops the pods' servers and removes every namespace and host link
// of the lab. Processes inside the namespaces (kube-proxy) must be stopped
// first, and listeners the caller opened with Listen closed, or the kernel
// keeps those namespaces alive (unnamed) until they end.
func (l *Lab) Down() error {
	var errs []error
	l.mu.Lock()
	pods := l.pods
	l.pods = nil
	l.mu.Unlock()
	for _, p := range pods {
		p.stopServing()
	}
	host, err := openHostNamespace()
	if err != nil {
		return err
	}
	defer host.close()
	for _, n := range l.Nodes {
		errs = append(errs, host.deleteLink(n.mgmtLink))
	}
	errs = append(errs, host.deleteLink(l.Bridge))
	for _, p := range pods {
		errs = append(errs, unmountNamespace(p.NS))
	}
	for _, n := range l.Nodes {
		errs = append(errs, unmountNamespace(n.NS))
	}
	for _, v := range l.VMs {
		errs = append(errs, unmountNamespace(v.NS))
	}
	errs = append(errs, unmountNamespace(l.Client), unmountNamespace(l.VPC))
	return errors.Join(errs...)
}

// CleanLeftovers removes the namespaces and host links whose names a lab
// made (PrefixFor) and whose owning test process is no longer running: what
// a crashed or killed run left behind.
func CleanLeftovers() error {
	names, err := namespaceNames()
	if err != nil {
		return fmt.Errorf("list network namespaces: %w", err)
	}
	var errs []error
	for _, ns := range leftovers(names, labProcessRunning) {
		errs = append(errs, unmountNamespace(ns))
	}
	host, err := openHostNamespace()
	if err != nil {
		return err
	}
	defer host.close()
	links, err := host.linkNames()
	if err != nil {
		return err
	}
	for _, dev := range leftovers(links, labProcessRunning) {
		errs = append(errs, host.deleteLink(dev))
	}
	return errors.Join(errs...)
}

// Remains lists what is left of a lab with prefix prefix: its named
// namespaces and its links in the host namespace. After Down it is empty.
func Remains(prefix string) ([]string, error) {
	names, err := namespaceNames()
	if err != nil {
		return nil, err
	}
	host, err := openHostNamespace()
	if err != nil {
		return nil, err
	}
	defer host.close()
	links, err := host.linkNames()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, "netns "+n)
		}
	}
	for _, n := range links {
		if strings.HasPrefix(n, prefix) {
			out = append(out, "link "+n)
		}
	}
	return out, nil
}

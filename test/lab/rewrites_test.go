package lab_test

// What `kubectl vpc trace` predicts and what the kernel's conntrack tables
// recorded, both said as the same list of rewrites, so that a test can
// compare them with one diff. Pure: no namespace, no socket.

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

// vpcAt is what a trace calls the VPC router, where the packet is between
// the client and a node (docs/trace.md, a Hop's at); the lab's vpc
// namespace is that router. Nodes are called by their names in both.
const vpcAt = "VPC"

// The two directions of a flow.
const (
	forward = "forward" // from the client to the pod
	back    = "reply"   // from the pod to the client
)

// rewrite is one change of a packet's address and port by a NAT: where,
// in which direction, which end, from what to what.
type rewrite struct {
	Direction string // forward or reply
	At        string // vpcAt or a node's name
	Field     string // destination or source
	// From and To are IP:PORT; a port picked at random (kube-proxy's
	// masquerade, --random-fully) is "*", as the trace writes it.
	From, To string
}

// rewritesOf is how a packet changes from before to after at one place:
// the destination first, then the source, the order in which the kernel
// applies them (destination NAT and the undoing of source NAT at
// prerouting, source NAT and the undoing of destination NAT at
// postrouting).
func rewritesOf(direction, at string, before, after trace.Flow) []rewrite {
	var out []rewrite
	if before.Dst != after.Dst {
		out = append(out, rewrite{direction, at, "destination", addrPortText(before.Dst), addrPortText(after.Dst)})
	}
	if before.Src != after.Src {
		out = append(out, rewrite{direction, at, "source", addrPortText(before.Src), addrPortText(after.Src)})
	}
	return out
}

// addrPortText is IP:PORT, with "*" for port 0, a port picked at random.
func addrPortText(a netip.AddrPort) string {
	if a.Port() == 0 {
		return a.Addr().String() + ":*"
	}
	return a.String()
}

// traceRewrites are the rewrites a trace predicts: those of its hops that
// change the packet, on the way in and on the way back.
func traceRewrites(t *trace.Trace) []rewrite {
	var out []rewrite
	for _, h := range t.Hops {
		out = append(out, rewritesOf(forward, h.At, h.Before, h.After)...)
	}
	for _, h := range t.Reply {
		out = append(out, rewritesOf(back, h.At, h.Before, h.After)...)
	}
	return out
}

// ctEntry is a conntrack entry: the tuple of the original direction as it
// arrived, and the tuple the reply is expected with. Where they differ,
// the kernel rewrites: a reply source other than the original destination
// is destination NAT, a reply destination other than the original source
// is source NAT.
type ctEntry struct {
	Orig, Reply trace.Flow
}

// sent is the packet of the original direction as the entry's NAT sends
// it on: the reply tuple turned around.
func (c ctEntry) sent() trace.Flow {
	return trace.Flow{Protocol: c.Orig.Protocol, Src: c.Reply.Dst, Dst: c.Reply.Src}
}

// tracked is a conntrack entry and the table it is in.
type tracked struct {
	At    string // vpcAt or a node's name
	Entry ctEntry
}

// followFlow follows a packet that the client sends into the VPC through
// the conntrack tables of the VPC and of the nodes (by place: vpcAt and
// the nodes' names), as the lab's links carry it: from the VPC into the
// node whose table has it, from a node back into the VPC when the VPC's
// table has the packet the node sent on (it crossed to another node), and
// otherwise to a pod of that node, where the walk ends. At each table the
// packet becomes what the entry sends on. Entries of other flows are
// ignored; a table holds a flow's entry once, so the walk ends when it
// would meet an entry again.
func followFlow(tables map[string][]ctEntry, first trace.Flow) []tracked {
	var nodes []string
	for at := range tables {
		if at != vpcAt {
			nodes = append(nodes, at)
		}
	}
	slices.Sort(nodes)
	var path []tracked
	seen := map[tracked]bool{}
	pkt, next := first, []string{vpcAt}
	for {
		step, ok := tracked{}, false
		for _, at := range next {
			if e, found := entryOf(tables[at], pkt); found && !seen[tracked{at, e}] {
				step, ok = tracked{at, e}, true
				break
			}
		}
		if !ok {
			return path
		}
		seen[step] = true
		path = append(path, step)
		pkt = step.Entry.sent()
		if step.At == vpcAt {
			next = nodes
		} else {
			next = []string{vpcAt}
		}
	}
}

// entryOf is the entry whose original tuple is pkt.
func entryOf(table []ctEntry, pkt trace.Flow) (ctEntry, bool) {
	for _, e := range table {
		if e.Orig == pkt {
			return e, true
		}
	}
	return ctEntry{}, false
}

// conntrackRewrites are the rewrites the entries along a flow's path
// (followFlow) recorded: on the way in in the path's order, each entry's
// original tuple into what it sends on; on the way back in the reverse
// order, each reply tuple into the original one turned around. A source
// NAT that changed the source port picked it at random (in the lab only
// kube-proxy's masquerade, --random-fully, rewrites a source port): it is
// written "*", as the trace writes it, so that the comparison checks that
// the port changed and not which port came out.
func conntrackRewrites(path []tracked) []rewrite {
	var out []rewrite
	for _, p := range path {
		out = append(out, rewritesOf(forward, p.At, p.Entry.Orig, masked(p.Entry).sent())...)
	}
	for _, p := range slices.Backward(path) {
		e := masked(p.Entry)
		arrives := e.Reply
		leaves := trace.Flow{Protocol: e.Orig.Protocol, Src: e.Orig.Dst, Dst: e.Orig.Src}
		out = append(out, rewritesOf(back, p.At, arrives, leaves)...)
	}
	return out
}

// masked is the entry with the source port its source NAT picked (the
// reply's destination port, when it is not the original source port)
// replaced by 0, the trace's "picked at random".
func masked(e ctEntry) ctEntry {
	if e.Reply.Dst.Port() != e.Orig.Src.Port() {
		e.Reply.Dst = netip.AddrPortFrom(e.Reply.Dst.Addr(), 0)
	}
	return e
}

// String is "VPC: A -> B, reply C -> D", for failure messages.
func (p tracked) String() string {
	return fmt.Sprintf("%s: %s, reply %s", p.At, p.Entry.Orig, p.Entry.Reply)
}

// rewriteCount is how many rewrites a flow meets in each direction: the
// forward ones are the transformations from the client to the pod (what a
// packet's walk through the network counts), the reply ones undo them on
// the way back, so a total would count each NAT twice.
type rewriteCount struct{ Forward, Reply int }

func countRewrites(rs []rewrite) rewriteCount {
	var c rewriteCount
	for _, r := range rs {
		if r.Direction == forward {
			c.Forward++
		} else {
			c.Reply++
		}
	}
	return c
}

func (c rewriteCount) String() string {
	return fmt.Sprintf("%d forward (client to pod), %d reply (their undoing)", c.Forward, c.Reply)
}

package lab_test

import (
	"fmt"
	"net/netip"

	"github.com/ti-mo/conntrack"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

// conntrackTables reads the conntrack tables of the vpc namespace and of
// every node's, by place (vpcAt and the nodes' names).
func conntrackTables() (map[string][]ctEntry, error) {
	namespaces := map[string]string{vpcAt: e.lab.VPC}
	for _, n := range e.lab.Nodes {
		namespaces[n.Name] = n.NS
	}
	tables := map[string][]ctEntry{}
	for at, ns := range namespaces {
		table, err := conntrackTable(ns)
		if err != nil {
			return nil, err
		}
		tables[at] = table
	}
	return tables, nil
}

// conntrackTable dumps the conntrack table of namespace ns: its TCP and
// UDP entries. The netlink socket is made by a thread inside ns, so the
// dump is that namespace's table.
func conntrackTable(ns string) ([]ctEntry, error) {
	var flows []conntrack.Flow
	err := topology.Exec(ns, func() error {
		c, err := conntrack.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		flows, err = c.Dump(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dump the conntrack table of %s: %w", ns, err)
	}
	var out []ctEntry
	for _, f := range flows {
		proto, ok := protocolNames[f.TupleOrig.Proto.Protocol]
		if !ok {
			continue
		}
		out = append(out, ctEntry{Orig: flowOf(proto, f.TupleOrig), Reply: flowOf(proto, f.TupleReply)})
	}
	return out, nil
}

// protocolNames are the protocols a trace names, by IP protocol number.
var protocolNames = map[uint8]string{6: "TCP", 17: "UDP"}

func flowOf(proto string, t conntrack.Tuple) trace.Flow {
	return trace.Flow{Protocol: proto,
		Src: netip.AddrPortFrom(t.IP.SourceAddress.Unmap(), t.Proto.SourcePort),
		Dst: netip.AddrPortFrom(t.IP.DestinationAddress.Unmap(), t.Proto.DestinationPort)}
}

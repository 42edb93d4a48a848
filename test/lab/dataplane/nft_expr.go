package dataplane

import (
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Expression builders: each returns the nftables expressions of one match or
// action, the way nft compiles the same words (nft --debug=netlink shows them).

const reg1 = 1 // NFT_REG_1

// ipsDstNAT is the conntrack status bit of a flow whose destination was
// rewritten (IPS_DST_NAT in linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 0x20

var (
	native = binaryutil.NativeEndian
	big    = binaryutil.BigEndian
)

// ctStateIn matches a connection state: ct state & bits != 0.
func ctStateIn(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: native.PutUint32(bits), Xor: native.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: native.PutUint32(0)},
	}
}

// ctDestinationNATed matches flows whose destination was rewritten (ct status dnat).
func ctDestinationNATed() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATUS, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: native.PutUint32(ipsDstNAT), Xor: native.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: native.PutUint32(0)},
	}
}

// restoreMark copies a marked flow's ct mark to the packet mark, for the
// packets of the flow's original direction only: replies must follow the
// main table back to the client, not the backend's table.
func restoreMark() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyDIRECTION, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{0}}, // IP_CT_DIR_ORIGINAL
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: native.PutUint32(0)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
	}
}

// ifnamePrefix matches the input (or output) interface name on a prefix
// (oifname "i-*"): the comparison covers only the prefix's bytes.
func ifnamePrefix(output bool, prefix string, equal bool) []expr.Any {
	key, op := expr.MetaKeyIIFNAME, expr.CmpOpEq
	if output {
		key = expr.MetaKeyOIFNAME
	}
	if !equal {
		op = expr.CmpOpNeq
	}
	return []expr.Any{&expr.Meta{Key: key, Register: reg1}, &expr.Cmp{Op: op, Register: reg1, Data: []byte(prefix)}}
}

// Offsets of the IPv4 header fields and the ports of the transport header.
const (
	offSaddr = 12
	offDaddr = 16
	offSport = 0
	offDport = 2
)

func loadAddr(offset uint32, reg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}
}

func loadPort(offset uint32, reg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2}
}

// addrIs matches one address at a header offset.
func addrIs(offset uint32, a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{loadAddr(offset, reg1), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: b[:]}}
}

// l4protoIs matches the transport protocol.
func l4protoIs(p Protocol) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1}, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{byte(p)}}}
}

func verdict(kind expr.VerdictKind, chain string) *expr.Verdict {
	return &expr.Verdict{Kind: kind, Chain: chain}
}

// natTo rewrites the destination (or source) to one address.
func natTo(typ expr.NATType, to netip.Addr) []expr.Any {
	b := to.As4()
	return []expr.Any{
		&expr.Immediate{Register: reg1, Data: b[:]},
		&expr.NAT{Type: typ, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1},
	}
}

// setBuilder adds the anonymous sets of one batch; each rule that looks one
// up must come after it in the same batch.
type setBuilder struct {
	c     *nftables.Conn
	table *nftables.Table
}

// lookup adds an anonymous set and returns the expression that looks reg1 up in it.
func (b setBuilder) lookup(set *nftables.Set, elems []nftables.SetElement) (*expr.Lookup, error) {
	set.Table, set.Anonymous, set.Constant = b.table, true, true
	if err := b.c.AddSet(set, elems); err != nil {
		return nil, err
	}
	return &expr.Lookup{SourceRegister: reg1, SetName: set.Name, SetID: set.ID}, nil
}

// addrIn matches an address at a header offset against prefixes: one prefix
// by mask and compare, several by an interval set.
func (b setBuilder) addrIn(offset uint32, ps []netip.Prefix) ([]expr.Any, error) {
	load := loadAddr(offset, reg1)
	if len(ps) == 1 {
		a, mask := ps[0].Addr().As4(), prefixMask(ps[0].Bits())
		if ps[0].Bits() == 32 {
			return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: a[:]}}, nil
		}
		return []expr.Any{load,
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: a[:]}}, nil
	}
	var spans []span
	for _, p := range ps {
		first := p.Masked().Addr().As4()
		last := lastAddr(p).As4()
		spans = append(spans, span{big.Uint32(first[:]), big.Uint32(last[:])})
	}
	l, err := b.lookup(&nftables.Set{KeyType: nftables.TypeIPAddr, Interval: true, KeyByteOrder: big}, intervalElements(spans, 4))
	return []expr.Any{load, l}, err
}

// portIn matches the destination port: one port by compare, else an interval set.
func (b setBuilder) portIn(ranges []PortRange) ([]expr.Any, error) {
	load := loadPort(offDport, reg1)
	if len(ranges) == 1 && ranges[0].First == ranges[0].Last {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: big.PutUint16(ranges[0].First)}}, nil
	}
	var spans []span
	for _, r := range ranges {
		spans = append(spans, span{uint32(r.First), uint32(r.Last)})
	}
	l, err := b.lookup(&nftables.Set{KeyType: nftables.TypeInetService, Interval: true, KeyByteOrder: big}, intervalElements(spans, 2))
	return []expr.Any{load, l}, err
}

// oifnameIn matches the output interface against names. Several names go
// in a named set (name), which nft lists readably: the library marks every
// anonymous set's keys big-endian, and nft then shows interface names,
// which are host-order strings, as "".
func (b setBuilder) oifnameIn(name string, names []string) ([]expr.Any, error) {
	load := &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: reg1}
	if len(names) == 1 {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ifname(names[0])}}, nil
	}
	var elems []nftables.SetElement
	for _, n := range names {
		elems = append(elems, nftables.SetElement{Key: ifname(n)})
	}
	set := &nftables.Set{Table: b.table, Name: name, KeyType: nftables.TypeIFName, KeyByteOrder: native}
	if err := b.c.AddSet(set, elems); err != nil {
		return nil, err
	}
	return []expr.Any{load, &expr.Lookup{SourceRegister: reg1, SetName: set.Name, SetID: set.ID}}, nil
}

// ifname is an interface name as the kernel compares it: NUL-padded to IFNAMSIZ.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func prefixMask(bits int) []byte {
	m := uint32(0)
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return big.PutUint32(m)
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	n := big.Uint32(a[:]) | ^big.Uint32(prefixMask(p.Bits()))
	return netip.AddrFrom4([4]byte(big.PutUint32(n)))
}

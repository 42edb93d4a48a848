package dataplane

import (
	"slices"

	"github.com/google/nftables"
)

// span is an inclusive range of keys of an interval set (addresses or ports).
type span struct{ first, last uint32 }

// intervalElements encodes spans as the elements of an nftables interval set,
// the way nft does: overlapping and adjacent spans merged, each span a start
// element and an interval-end element one past its last key (none when it
// reaches the largest key), and a leading interval end at zero when the first
// span starts above zero. size is the key length in bytes (4 or 2).
func intervalElements(spans []span, size int) []nftables.SetElement {
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	var merged []span
	for _, s := range spans {
		if n := len(merged); n > 0 && uint64(s.first) <= uint64(merged[n-1].last)+1 {
			merged[n-1].last = max(merged[n-1].last, s.last)
			continue
		}
		merged = append(merged, s)
	}
	maxKey := uint32(1)<<(8*size) - 1
	if size == 4 {
		maxKey = ^uint32(0)
	}
	var out []nftables.SetElement
	if len(merged) > 0 && merged[0].first != 0 {
		out = append(out, nftables.SetElement{Key: key(0, size), IntervalEnd: true})
	}
	for _, s := range merged {
		out = append(out, nftables.SetElement{Key: key(s.first, size)})
		if s.last != maxKey {
			out = append(out, nftables.SetElement{Key: key(s.last+1, size), IntervalEnd: true})
		}
	}
	return out
}

func key(v uint32, size int) []byte {
	if size == 2 {
		return big.PutUint16(uint16(v))
	}
	return big.PutUint32(v)
}

package trace

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteMermaid writes the trace as a Mermaid sequence diagram: the
// participants Client, VPC, the nodes the packet crosses and the pod; one
// arrow per hop, labelled with its number, component and addresses
// (dashed on the way back, crossed where the packet is lost); a note over
// the participant of each rewrite and of the drop.
func WriteMermaid(w io.Writer, t *Trace) error {
	ids := participants(t)
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	for _, p := range ids.order {
		if label := ids.label(p, t); label != ids.id[p] {
			fmt.Fprintf(&b, "    participant %s as %s\n", ids.id[p], mermaidText(label))
		} else {
			fmt.Fprintf(&b, "    participant %s\n", p)
		}
	}
	writeArrows(&b, ids, t.Hops, "->>", "")
	if len(t.Reply) > 0 {
		writeArrows(&b, ids, t.Reply, "-->>", "reply ")
	}
	if t.Drop != nil {
		fmt.Fprintf(&b, "    Note over %s: %s: %s\n", ids.id[dropAt(t)], strings.ToUpper(t.Outcome), mermaidText(t.Drop.Reason))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeArrows(b *strings.Builder, ids participantIDs, hops []Hop, arrow, prefix string) {
	for _, h := range hops {
		a := arrow
		if h.Verdict == Dropped || h.Verdict == Rejected {
			a = "-x"
		}
		fmt.Fprintf(b, "    %s%s%s: %s%d. %s %s\n", ids.id[h.At], a, ids.id[h.Next], prefix, h.N, h.Component, mermaidText(arrowFlow(h.After)))
		if h.Rewrites() {
			fmt.Fprintf(b, "    Note over %s: %s\n", ids.id[h.At], mermaidText(rewriteText(h)))
		}
	}
}

// dropAt is where the drop note goes: where the packet was headed.
func dropAt(t *Trace) string {
	for _, h := range t.Hops {
		if h.N == t.Drop.Hop {
			return h.Next
		}
	}
	return t.Drop.At
}

func arrowFlow(f Flow) string { return addrPortText(f.Src) + " → " + addrPortText(f.Dst) }

// rewriteText says what a hop changed: "DNAT 203.0.113.10:80 → 10.64.1.3:8080".
func rewriteText(h Hop) string {
	var parts []string
	if h.Before.Src != h.After.Src {
		parts = append(parts, "source "+addrPortText(h.Before.Src)+" → "+addrPortText(h.After.Src))
	}
	if h.Before.Dst != h.After.Dst {
		parts = append(parts, "destination "+addrPortText(h.Before.Dst)+" → "+addrPortText(h.After.Dst))
	}
	return h.Component + ": " + strings.Join(parts, ", ")
}

// participantIDs are the diagram's participants in order of appearance,
// and their Mermaid identifiers (node names lose their dashes).
type participantIDs struct {
	order []string
	id    map[string]string
}

func participants(t *Trace) participantIDs {
	p := participantIDs{id: map[string]string{}}
	add := func(name string) {
		if _, ok := p.id[name]; ok || name == "" {
			return
		}
		id := name
		if name != atClient && name != atVPC && name != atPod {
			id = mermaidID(name)
			for n := 2; slices.Contains(p.ids(), id); n++ {
				id = fmt.Sprintf("%s_%d", mermaidID(name), n)
			}
		}
		p.order = append(p.order, name)
		p.id[name] = id
	}
	add(atClient)
	add(atVPC)
	for _, h := range append(slices.Clone(t.Hops), t.Reply...) {
		if h.At != atPod {
			add(h.At)
		}
		if h.Next != atPod {
			add(h.Next)
		}
	}
	for _, h := range t.Hops {
		if h.Next == atPod || h.At == atPod {
			add(atPod)
		}
	}
	return p
}

func (p participantIDs) ids() []string {
	var out []string
	for _, id := range p.id {
		out = append(out, id)
	}
	return out
}

// label is what the diagram shows for a participant.
func (p participantIDs) label(name string, t *Trace) string {
	if name == atPod && t.Endpoint != nil {
		return "pod " + (&endpoint{Endpoint: *t.Endpoint}).name()
	}
	return name
}

// mermaidID keeps the letters, digits and underscores of a name.
func mermaidID(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "node"
	}
	return b.String()
}

var mermaidEscaper = strings.NewReplacer("#", "#35;", ";", "#59;")

// mermaidText escapes what Mermaid reads as syntax in a message: a
// semicolon ends a statement and # starts an entity.
func mermaidText(s string) string {
	return mermaidEscaper.Replace(s)
}

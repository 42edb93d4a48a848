package trace

import (
	"fmt"
	"io"
	"strings"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// WriteText writes the trace for people: a header, one numbered line per
// hop ("3. VPC firewall  198.51.100.10:40000 -> 10.128.0.2:80  allowed by
// NAME (priority 1000)"), a rewrite shown as "before => after", the reply
// path, the outcome with what to change, and the notes.
func WriteText(w io.Writer, t *Trace) error {
	var b strings.Builder
	port := fmt.Sprintf("%d/%s", t.Port.Port, t.Port.Protocol)
	if t.Port.Name != "" {
		port = t.Port.Name + " " + port
	}
	fmt.Fprintf(&b, "Service %s port %s: mode %s, externalTrafficPolicy %s\n", t.Service, port, t.Mode, t.ExternalTrafficPolicy)
	fmt.Fprintf(&b, "Client %s\n", t.Client)
	fmt.Fprintf(&b, "kube-proxy: %s mode (%s)\n\n", t.KubeProxyMode, t.KubeProxyModeSource)
	writeHops(&b, t.Hops)
	if len(t.Reply) > 0 {
		b.WriteString("\nReply:\n")
		writeHops(&b, t.Reply)
	}
	b.WriteString("\n")
	switch {
	case t.Drop != nil:
		fmt.Fprintf(&b, "%s at hop %d (%s, %s): %s\n", strings.ToUpper(t.Outcome), t.Drop.Hop, t.Drop.Component, t.Drop.At, t.Drop.Reason)
		for _, f := range t.Drop.Fix {
			fmt.Fprintf(&b, "  fix: %s\n", f)
		}
	case t.Endpoint != nil:
		fmt.Fprintf(&b, "DELIVERED to pod %s (%s) on %s.\n", (&endpoint{Endpoint: *t.Endpoint}).name(), t.Endpoint.Address, t.Endpoint.Node)
	}
	if t.Outcome == Delivered {
		fmt.Fprintf(&b, "Rewrites: %d on the way in (client to pod), %d on the way back (each source or destination changed counts one).\n",
			t.Rewrites.Forward, t.Rewrites.Reply)
	}
	if len(t.Backends) > 0 {
		b.WriteString("\nLoad balancer backends:\n")
		for _, be := range t.Backends {
			health := "unhealthy"
			if be.Healthy {
				health = "healthy"
			}
			fmt.Fprintf(&b, "  %s (instance %s): %s, %s\n", be.Node, ownership.LastSegment(be.Instance), health, be.Reason)
		}
	}
	if len(t.Endpoints) > 0 {
		fmt.Fprintf(&b, "\nkube-proxy's endpoints on %s:\n", t.Node)
		for _, e := range t.Endpoints {
			fmt.Fprintf(&b, "  %s %s on %s\n", (&endpoint{Endpoint: e}).name(), e.Address, e.Node)
		}
	}
	if len(t.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHops(b *strings.Builder, hops []Hop) {
	for _, h := range hops {
		flow := h.Before.String()
		if h.Rewrites() {
			flow += " => " + h.After.String()
		}
		fmt.Fprintf(b, "%d. %s  %s  %s\n", h.N, h.Component, flow, h.Description)
	}
}

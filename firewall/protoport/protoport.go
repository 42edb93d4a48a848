// Package protoport reads the protocol and ports of a VPC firewall rule's
// allowed[] and denied[] entries (compute v1 Firewall.allowed[].IPProtocol
// and .ports) into typed values: the firewall package normalises rules
// with it, the trace and the packet lab's data plane match packets with it,
// and fake-gce refuses with it what the API refuses.
//
// It imports the standard library only and must stay so: fake-gce, which
// must not depend on Kubernetes or on the provider, imports it.
package protoport

import (
	"fmt"
	"strconv"
	"strings"
)

// Protocol is an entry's IPProtocol: a well-known name, "all", or an IP
// protocol number.
type Protocol struct {
	// Number is the IP protocol number (6 for tcp); 0 when All.
	Number uint8
	// All: the entry names "all", every protocol.
	All bool
	// Name is the lower-case name the entry used ("tcp", "all"), or "" when
	// it gave a number.
	Name string
}

// Protocols the firewall API knows by name (Firewall.allowed[].IPProtocol:
// "tcp, udp, icmp, esp, ah, ipip, sctp ... or the IP protocol number"),
// with their IANA numbers.
const (
	ICMP = 1
	IPIP = 4
	TCP  = 6
	UDP  = 17
	ESP  = 50
	AH   = 51
	SCTP = 132
)

// numberOf maps the names to numbers. A function, not a map variable, so
// that nobody can change it.
func numberOf(name string) (uint8, bool) {
	switch name {
	case "icmp":
		return ICMP, true
	case "ipip":
		return IPIP, true
	case "tcp":
		return TCP, true
	case "udp":
		return UDP, true
	case "esp":
		return ESP, true
	case "ah":
		return AH, true
	case "sctp":
		return SCTP, true
	}
	return 0, false
}

// Reasons a value is refused, as fake-gce words its 400 answers.
const (
	reasonProtocol     = "Must be one of tcp, udp, icmp, esp, ah, sctp, ipip, all or a protocol number."
	reasonNumber       = "A protocol number is from 0 to 255."
	reasonPortsAllowed = "Ports can be given only for tcp, udp and sctp."
	reasonPort         = "Must be a port or a range of ports from 0 to 65535 such as 80 or 8000-8080."
)

// Error says which field of an entry is refused and why. Field is relative
// to the entry: "IPProtocol", "ports" or "ports[2]".
type Error struct {
	Field string
	Value string
	// Missing: the field is required and was not given.
	Missing bool
	Reason  string
}

func (e *Error) Error() string {
	if e.Missing {
		return e.Field + " is required"
	}
	return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Reason)
}

// ParseProtocol reads an IPProtocol: a name of any case, "all", or a
// decimal number from 0 to 255.
func ParseProtocol(s string) (Protocol, error) {
	name := strings.ToLower(s)
	switch {
	case name == "":
		return Protocol{}, &Error{Field: "IPProtocol", Missing: true}
	case name == "all":
		return Protocol{All: true, Name: name}, nil
	case isDigits(strings.TrimPrefix(name, "-")):
		// A negative number is a number out of range, not an unknown name.
		n, err := strconv.ParseUint(name, 10, 8)
		if err != nil {
			return Protocol{}, &Error{Field: "IPProtocol", Value: name, Reason: reasonNumber}
		}
		return Protocol{Number: uint8(n)}, nil
	}
	n, ok := numberOf(name)
	if !ok {
		return Protocol{}, &Error{Field: "IPProtocol", Value: name, Reason: reasonProtocol}
	}
	return Protocol{Number: n, Name: name}, nil
}

// HasPorts says whether the protocol's packets carry ports a rule can
// match: tcp, udp and sctp, by name or number. A port list on an entry of
// any other protocol (or of "all") does not narrow what it covers.
func (p Protocol) HasPorts() bool {
	return !p.All && (p.Number == TCP || p.Number == UDP || p.Number == SCTP)
}

// acceptsPortList says whether the API takes a ports list on an entry of
// this protocol: tcp, udp, sctp or all by name. The discovery document
// names tcp and udp only; sctp and all are fake-gce's reading, and a
// number (6) with ports is refused there.
func (p Protocol) acceptsPortList() bool {
	switch p.Name {
	case "tcp", "udp", "sctp", "all":
		return true
	}
	return false
}

// PortRange is an inclusive range of ports; one port has First == Last.
type PortRange struct {
	First, Last uint16
}

// Contains says whether port is in the range.
func (r PortRange) Contains(port uint16) bool { return r.First <= port && port <= r.Last }

// String is the API's spelling: "80" or "8000-8080".
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
}

// ParsePortRange reads one ports entry: "80" or "8000-8080", decimal
// digits only, from 0 to 65535, the first not above the last. Port 0 is
// accepted: the default network's default-allow-internal rule reads
// tcp "0-65535".
func ParsePortRange(s string) (PortRange, error) {
	first, last, isRange := strings.Cut(s, "-")
	if !isRange {
		last = first
	}
	f, okF := parsePort(first)
	l, okL := parsePort(last)
	if !okF || !okL || f > l {
		return PortRange{}, &Error{Field: "ports", Value: s, Reason: reasonPort}
	}
	return PortRange{First: f, Last: l}, nil
}

func parsePort(s string) (uint16, bool) {
	if !isDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// isDigits: s is one or more ASCII digits (no sign, no space), the only
// spelling strconv.ParseUint and the API agree on.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ParsePorts reads a ports list in its order; nil for none. The error of
// the first entry that is no port names it by index ("ports[1]").
func ParsePorts(specs []string) ([]PortRange, error) {
	var out []PortRange
	for i, s := range specs {
		r, err := ParsePortRange(s)
		if err != nil {
			err.(*Error).Field = fmt.Sprintf("ports[%d]", i)
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Entry is one allowed[] or denied[] entry.
type Entry struct {
	Protocol Protocol
	// Ports are the entry's ranges in its order; nil: every port.
	Ports []PortRange
}

// ParseEntry reads an entry as the API validates it when a rule is
// inserted: the protocol is required and known; ports are given only for
// tcp, udp, sctp or all, and each is a port or a range.
func ParseEntry(protocol string, ports []string) (Entry, error) {
	p, err := ParseProtocol(protocol)
	if err != nil {
		return Entry{}, err
	}
	if len(ports) > 0 && !p.acceptsPortList() {
		return Entry{}, &Error{Field: "ports", Value: strings.Join(ports, ","), Reason: reasonPortsAllowed}
	}
	ranges, err := ParsePorts(ports)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Protocol: p, Ports: ranges}, nil
}

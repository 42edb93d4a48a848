package protoport

import (
	"cmp"
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

func TestParseProtocol(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    Protocol
		wantErr string
	}{
		{name: "tcp by name", in: "tcp", want: Protocol{Number: 6, Name: "tcp"}},
		{name: "a name in upper case", in: "UDP", want: Protocol{Number: 17, Name: "udp"}},
		{name: "icmp", in: "icmp", want: Protocol{Number: 1, Name: "icmp"}},
		{name: "esp", in: "esp", want: Protocol{Number: 50, Name: "esp"}},
		{name: "ah", in: "ah", want: Protocol{Number: 51, Name: "ah"}},
		{name: "ipip", in: "ipip", want: Protocol{Number: 4, Name: "ipip"}},
		{name: "sctp", in: "sctp", want: Protocol{Number: 132, Name: "sctp"}},
		{name: "all", in: "all", want: Protocol{All: true, Name: "all"}},
		{name: "ALL in upper case", in: "ALL", want: Protocol{All: true, Name: "all"}},
		{name: "a number", in: "6", want: Protocol{Number: 6}},
		{name: "zero is a number, not all", in: "0", want: Protocol{Number: 0}},
		{name: "the largest number", in: "255", want: Protocol{Number: 255}},
		{name: "a number above 255", in: "256", wantErr: `IPProtocol "256": A protocol number is from 0 to 255.`},
		{name: "a negative number", in: "-1", wantErr: `IPProtocol "-1": A protocol number is from 0 to 255.`},
		{name: "an unknown name", in: "gre", wantErr: `IPProtocol "gre": Must be one of tcp, udp, icmp, esp, ah, sctp, ipip, all or a protocol number.`},
		{name: "a forwarding rule's L3_DEFAULT is no firewall protocol", in: "L3_DEFAULT", wantErr: `IPProtocol "l3_default": Must be one of tcp, udp, icmp, esp, ah, sctp, ipip, all or a protocol number.`},
		{name: "a name with spaces", in: " tcp", wantErr: `IPProtocol " tcp": Must be one of tcp, udp, icmp, esp, ah, sctp, ipip, all or a protocol number.`},
		{name: "a signed number", in: "+6", wantErr: `IPProtocol "+6": Must be one of tcp, udp, icmp, esp, ah, sctp, ipip, all or a protocol number.`},
		{name: "nothing", in: "", wantErr: "IPProtocol is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProtocol(tc.in)
			if msg := errText(err); msg != tc.wantErr {
				t.Fatalf("error = %q, want %q", msg, tc.wantErr)
			}
			if diff := gocmp.Diff(tc.want, got); diff != "" {
				t.Errorf("protocol (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHasPorts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"tcp", true}, {"udp", true}, {"sctp", true}, {"6", true}, {"17", true}, {"132", true},
		{"icmp", false}, {"esp", false}, {"all", false}, {"0", false}, {"1", false},
	} {
		p, err := ParseProtocol(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.HasPorts(); got != tc.want {
			t.Errorf("%s: HasPorts = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	const reason = "Must be a port or a range of ports from 0 to 65535 such as 80 or 8000-8080."
	for _, tc := range []struct {
		name string
		in   string
		want PortRange
		bad  bool
		// spelled is String's answer when it differs from in.
		spelled string
	}{
		{name: "one port", in: "80", want: PortRange{80, 80}},
		{name: "a range", in: "8000-8080", want: PortRange{8000, 8080}},
		{name: "a range of one port", in: "53-53", want: PortRange{53, 53}, spelled: "53"},
		{name: "every port, as the default network's internal rule has it", in: "0-65535", want: PortRange{0, 65535}},
		{name: "port 0 alone", in: "0", want: PortRange{0, 0}},
		{name: "the highest port", in: "65535", want: PortRange{65535, 65535}},
		{name: "a port above 65535", in: "65536", bad: true},
		{name: "a range ending above 65535", in: "1-65536", bad: true},
		{name: "a reversed range", in: "90-85", bad: true},
		{name: "a range without an end", in: "80-", bad: true},
		{name: "a range without a start", in: "-80", bad: true},
		{name: "two dashes", in: "1-2-3", bad: true},
		{name: "a name", in: "http", bad: true},
		{name: "a sign", in: "+80", bad: true},
		{name: "spaces", in: " 80", bad: true},
		{name: "nothing", in: "", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePortRange(tc.in)
			if tc.bad {
				want := `ports "` + tc.in + `": ` + reason
				if errText(err) != want {
					t.Fatalf("error = %q, want %q", errText(err), want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if want := cmp.Or(tc.spelled, tc.in); got.String() != want {
				t.Errorf("String = %q, want %q", got.String(), want)
			}
		})
	}
}

func TestPortRangeContains(t *testing.T) {
	r := PortRange{8000, 8080}
	for port, want := range map[uint16]bool{7999: false, 8000: true, 8042: true, 8080: true, 8081: false} {
		if got := r.Contains(port); got != want {
			t.Errorf("%v contains %d = %v, want %v", r, port, got, want)
		}
	}
}

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol string
		ports    []string
		want     Entry
		wantErr  *Error
	}{
		{name: "tcp on some ports, in the entry's order", protocol: "tcp", ports: []string{"443", "80", "8000-8080"},
			want: Entry{Protocol: Protocol{Number: 6, Name: "tcp"}, Ports: []PortRange{{443, 443}, {80, 80}, {8000, 8080}}}},
		{name: "udp without ports covers every port", protocol: "udp", want: Entry{Protocol: Protocol{Number: 17, Name: "udp"}}},
		{name: "icmp without ports", protocol: "icmp", want: Entry{Protocol: Protocol{Number: 1, Name: "icmp"}}},
		{name: "all may carry ports", protocol: "all", ports: []string{"80"},
			want: Entry{Protocol: Protocol{All: true, Name: "all"}, Ports: []PortRange{{80, 80}}}},
		{name: "sctp may carry ports", protocol: "sctp", ports: []string{"9899"},
			want: Entry{Protocol: Protocol{Number: 132, Name: "sctp"}, Ports: []PortRange{{9899, 9899}}}},
		{name: "no protocol is refused", ports: []string{"80"}, wantErr: &Error{Field: "IPProtocol", Missing: true}},
		{name: "an unknown protocol is refused", protocol: "gre",
			wantErr: &Error{Field: "IPProtocol", Value: "gre", Reason: reasonProtocol}},
		{name: "ports on icmp are refused", protocol: "icmp", ports: []string{"80", "443"},
			wantErr: &Error{Field: "ports", Value: "80,443", Reason: reasonPortsAllowed}},
		{name: "ports on a protocol number are refused, even tcp's", protocol: "6", ports: []string{"80"},
			wantErr: &Error{Field: "ports", Value: "80", Reason: reasonPortsAllowed}},
		{name: "a bad port is named by its index", protocol: "tcp", ports: []string{"80", "90-85"},
			wantErr: &Error{Field: "ports[1]", Value: "90-85", Reason: reasonPort}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEntry(tc.protocol, tc.ports)
			if tc.wantErr != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				if diff := gocmp.Diff(tc.wantErr, e); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entry (-want +got):\n%s", diff)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// fake-gce imports this package and must not link Kubernetes or the
// provider, so it imports the standard library only.
func TestImportsTheStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s, which is not the standard library", name, path)
			}
		}
	}
}

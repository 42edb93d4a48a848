// Command fake-gce-dataplane makes a network namespace behave as the VPC that
// a fake-gce server describes (1:1 NAT, passthrough forwarding rules with
// health checks, the ingress firewall and the routes), and keeps it current
// as the state changes. It is the packet lab's VPC router, runnable by hand:
//
//	ip netns add vpc
//	fake-gce-dataplane --endpoint http://127.0.0.1:8085 --netns vpc
//
// The work is done by test/lab/dataplane; this command only wires flags to it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/dataplane"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fake-gce-dataplane:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fake-gce-dataplane", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: fake-gce-dataplane --endpoint URL --netns NAME [flags]

Programs nftables rules, ip rules and routes in a network namespace from the
state of a fake-gce server, so that packets crossing the namespace see the
VPC fake-gce describes; probes the load balancers' backends from GCE's
health-checker addresses. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
Everything it added is removed when it stops (SIGINT or SIGTERM).

Flags:
`)
		fs.PrintDefaults()
	}
	endpoint := fs.String("endpoint", "http://127.0.0.1:8085", "fake-gce's URL (the compute API is under /compute/v1/)")
	project := fs.String("project", "fake-project", "project of the VPC")
	regions := fs.String("regions", "us-central1", "comma-separated regions whose forwarding rules, target pools and backend services apply")
	network := fs.String("network", "default", "name of the VPC network")
	ns := fs.String("netns", "", "the network namespace to program: a name under /run/netns, or a path (required)")
	report := fs.Bool("report-health", true, "report probe results to fake-gce, so that getHealth answers what the probes see")
	guests := fs.String("guest-netns", "", "comma-separated ADDRESS=NAMESPACE: instances, by internal address, whose guest environment to play (the local routes of the forwarding rules they back)")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	fs.Var(klogFlags.Lookup("v").Value, "v", "log verbosity (2 logs every apply and health change)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (all settings are flags; see --help)", fs.Arg(0))
	}
	if *ns == "" {
		return errors.New("--netns is required")
	}
	guestNS, err := parseGuests(*guests)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = klog.NewContext(ctx, klog.Background().WithName("dataplane"))
	return dataplane.Run(ctx, dataplane.Config{
		Endpoint:     *endpoint,
		Project:      *project,
		Regions:      strings.Split(*regions, ","),
		Network:      *network,
		Namespace:    *ns,
		ReportHealth: *report,
		Guests:       guestNS,
	})
}

// parseGuests reads --guest-netns: ADDRESS=NAMESPACE, comma-separated.
func parseGuests(v string) (map[netip.Addr]string, error) {
	out := map[netip.Addr]string{}
	for _, kv := range strings.Split(v, ",") {
		if kv == "" {
			continue
		}
		addr, ns, ok := strings.Cut(kv, "=")
		ip, err := netip.ParseAddr(addr)
		if !ok || err != nil || ns == "" {
			return nil, fmt.Errorf("--guest-netns: %q is not ADDRESS=NAMESPACE", kv)
		}
		out[ip] = ns
	}
	return out, nil
}

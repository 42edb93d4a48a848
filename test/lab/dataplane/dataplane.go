package dataplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	"k8s.io/klog/v2"
)

// Config says which fake-gce state to implement, and where.
type Config struct {
	// Endpoint is fake-gce's URL (http://host:port); the compute API is
	// under /compute/v1/ and the admin endpoints under /admin/v1/.
	Endpoint string
	// Project, Regions and Network name the VPC: forwarding rules, target
	// pools and backend services are read in Regions; instances, firewalls
	// and routes count when they are on Network.
	Project string
	Regions []string
	Network string
	// Namespace is the vpc network namespace: a name under /run/netns or a path.
	Namespace string
	// HTTPClient talks to fake-gce; nil uses a client without a timeout
	// (the generation long poll holds a request up to 30 s).
	HTTPClient *http.Client
	// ReportHealth, when set, reports every probe result to fake-gce
	// (PUT /admin/v1/health), so that getHealth answers what the probes see.
	ReportHealth bool
	// RetryInterval is how long to wait after a failed observe or apply
	// before trying again (default 1 s).
	RetryInterval time.Duration
	// Guests are the namespaces of instances, by internal address, whose
	// guest environment the data plane plays: each gets the local routes
	// of the forwarding rules its instance backs (guest.go).
	Guests map[netip.Addr]string
	// OnSync, when set, is called after every pass that compiled a plan
	// from the state of a generation, whether or not the kernel changed.
	OnSync func(Sync)
}

// Sync is one pass of the data plane, as Config.OnSync sees it.
type Sync struct {
	// Generation is the fake's generation the state was read at (or after).
	Generation uint64
	Plan       Plan
	// Applied is true when the pass wrote the kernel (the plan, or the
	// links that lead to instances, changed).
	Applied bool
	// Observe is how long reading the state the pass compiled took, Apply
	// how long writing the kernel took (0 when the pass did not).
	Observe, Apply time.Duration
}

func (c *Config) setDefaults() {
	if c.Network == "" {
		c.Network = "default"
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = time.Second
	}
	c.Endpoint = strings.TrimSuffix(c.Endpoint, "/")
}

func (c *Config) validate() error {
	switch {
	case c.Endpoint == "":
		return errors.New("endpoint: fake-gce's URL is required")
	case c.Project == "":
		return errors.New("project: required")
	case len(c.Regions) == 0:
		return errors.New("regions: at least one is required")
	case c.Namespace == "":
		return errors.New("namespace: the vpc network namespace is required")
	}
	return nil
}

// Run implements fake-gce's state in the namespace until ctx ends, then
// removes what it added (its table, ip rules and routes) and returns.
func Run(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := klog.FromContext(ctx).WithValues("namespace", cfg.Namespace)
	ns, err := openNamespace(cfg.Namespace)
	if err != nil {
		return err
	}
	defer ns.close()
	if err := ns.prepare(); err != nil {
		return fmt.Errorf("prepare network namespace %s: %w", cfg.Namespace, err)
	}
	svc, err := compute.NewService(ctx, option.WithEndpoint(cfg.Endpoint+"/compute/v1/"),
		option.WithoutAuthentication(), option.WithHTTPClient(cfg.HTTPClient))
	if err != nil {
		return fmt.Errorf("compute client: %w", err)
	}
	d := &dataplane{
		cfg:    cfg,
		logger: logger,
		ns:     ns,
		admin:  adminClient{base: cfg.Endpoint, http: cfg.HTTPClient},
		obs:    &observer{svc: svc, project: cfg.Project, regions: cfg.Regions, network: cfg.Network},
		prober: newProber(ns.dial, logger),
	}
	defer d.cleanup()
	d.guests = map[netip.Addr]*namespace{}
	for ip, name := range cfg.Guests {
		g, err := openNamespace(name)
		if err != nil {
			return err
		}
		d.guests[ip] = g
	}
	return d.loop(ctx)
}

type dataplane struct {
	cfg    Config
	logger klog.Logger
	ns     *namespace
	admin  adminClient
	obs    *observer
	prober *prober

	// What the last successful apply wrote, to skip passes that change nothing.
	applied      *Plan
	appliedLinks map[netip.Addr]link
	relaxed      map[string]bool // instance links whose rp_filter is off
	reported     map[HealthKey]bool
	// observeTook is how long reading the current state took.
	observeTook time.Duration
	// guests are Config.Guests opened; guestRoutes what they were last given.
	guests      map[netip.Addr]*namespace
	guestRoutes map[netip.Addr][]netip.Addr
}

// loop waits for something to change (the fake's state, a probe result, the
// namespace's routes), then compiles and applies.
func (d *dataplane) loop(ctx context.Context) error {
	gens := make(chan uint64, 1)
	go d.admin.watchGenerations(ctx, gens, d.logger)
	routes := make(chan netlink.RouteUpdate, 64)
	if err := netlink.RouteSubscribeWithOptions(routes, ctx.Done(), netlink.RouteSubscribeOptions{Namespace: &d.ns.ns}); err != nil {
		return fmt.Errorf("subscribe to routes of %s: %w", d.cfg.Namespace, err)
	}
	retry := time.NewTimer(0) // the first pass observes at once
	defer retry.Stop()
	var (
		state      State
		have       bool
		generation uint64
		observe    bool
		failed     bool
	)
	for {
		select {
		case <-ctx.Done():
			return nil
		case g := <-gens:
			generation, observe = g, true
		case <-retry.C:
			observe = observe || !have || failed
		case <-d.prober.changed:
		case _, ok := <-routes:
			if !ok {
				routes = nil // the subscription ended; passes still run on the other events
			}
			drain(routes)
		}
		failed = false
		if observe {
			began := time.Now()
			s, err := d.obs.observe(ctx)
			d.observeTook = time.Since(began)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				d.logger.Error(err, "Reading fake-gce's state")
				failed = true
				retry.Reset(d.cfg.RetryInterval)
				continue
			}
			state, have, observe = s, true, false
		}
		if !have {
			continue
		}
		if err := d.pass(ctx, state, generation); err != nil {
			d.logger.Error(err, "Applying fake-gce's state", "generation", generation)
			failed = true
			retry.Reset(d.cfg.RetryInterval)
		}
	}
}

// pass compiles the state with the current probe results and writes the
// kernel when the plan or the instance links changed.
func (d *dataplane) pass(ctx context.Context, state State, generation uint64) error {
	state.Health = d.prober.snapshot()
	plan := Compile(state)
	d.prober.set(plan.Probes)
	links, err := instanceLinks(d.ns.nl, plan)
	if err != nil {
		return err
	}
	applied, applyTook := false, time.Duration(0)
	if d.applied == nil || !reflect.DeepEqual(plan, *d.applied) || !maps.Equal(links, d.appliedLinks) {
		began := time.Now()
		if err := d.apply(plan, links); err != nil {
			d.applied = nil
			return err
		}
		applyTook = time.Since(began)
		d.applied, d.appliedLinks, applied = &plan, links, true
		d.logger.V(2).Info("Applied", "generation", generation, "nat", len(plan.NAT), "forwardingRules", len(plan.ForwardingRules),
			"firewallRules", len(plan.Firewall), "routes", len(plan.Routes), "instanceLinks", len(links))
	}
	if want := ForwardedIPs(plan); len(d.guests) > 0 && (d.guestRoutes == nil || !maps.EqualFunc(want, d.guestRoutes, slices.Equal)) {
		if err := d.applyGuests(want); err != nil {
			return err
		}
		d.guestRoutes = want
	}
	// Reported only once the kernel forwards by it, so that a caller who
	// sees a backend healthy through getHealth can count on its flows.
	if d.cfg.ReportHealth && !maps.Equal(state.Health, d.reported) {
		if err := d.admin.reportHealth(ctx, state.Health); err != nil {
			d.logger.Error(err, "Reporting backend health to fake-gce")
		} else {
			d.reported = state.Health
		}
	}
	if d.cfg.OnSync != nil {
		d.cfg.OnSync(Sync{Generation: generation, Plan: plan, Applied: applied, Observe: d.observeTook, Apply: applyTook})
	}
	return nil
}

// apply writes the plan: reverse-path filtering off on new instance links,
// the nftables table in one batch, then the ip rules and routes.
func (d *dataplane) apply(plan Plan, links map[netip.Addr]link) error {
	var fresh []string
	names := map[netip.Addr]string{}
	for ip, l := range links {
		names[ip] = l.name
		if !d.relaxed[l.name] {
			fresh = append(fresh, l.name)
		}
	}
	if len(fresh) > 0 {
		slices.Sort(fresh)
		fresh = slices.Compact(fresh)
		if err := d.ns.relaxReversePath(fresh); err != nil {
			return err
		}
		if d.relaxed == nil {
			d.relaxed = map[string]bool{}
		}
		for _, l := range fresh {
			d.relaxed[l] = true
		}
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(d.ns.ns)))
	if err != nil {
		return fmt.Errorf("nftables connection: %w", err)
	}
	if err := writeTable(c, plan, names); err != nil {
		return err
	}
	return writeRouting(d.ns.nl, plan, links)
}

// cleanup removes the table, rules and routes the data plane added, and
// stops the probes.
func (d *dataplane) cleanup() {
	d.prober.stop()
	c, err := nftables.New(nftables.WithNetNSFd(int(d.ns.ns)))
	if err == nil {
		err = deleteTable(c)
	}
	err = errors.Join(err, clearRouting(d.ns.nl), d.applyGuests(nil))
	for _, g := range d.guests {
		g.close()
	}
	if err != nil {
		d.logger.V(1).Info("Cleaning up the data plane's rules", "err", err)
	}
}

func drain[T any](ch chan T) {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

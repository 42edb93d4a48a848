package fakegce_test

// Shared fixtures for the tests that drive fake-gce through the official Go
// client over HTTP: small builders with functional options, and helpers that
// wait on operations and read API errors.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

const (
	region = "us-central1"
	zone   = "us-central1-a"
)

// start runs a fake cloud with the default config changed by opts.
func start(t testing.TB, opts ...func(*fakegce.Config)) *fakegcetest.Cloud {
	t.Helper()
	var cfg fakegce.Config
	for _, o := range opts {
		o(&cfg)
	}
	return fakegcetest.Start(t, cfg)
}

func withOpLatency(d time.Duration) func(*fakegce.Config) {
	return func(c *fakegce.Config) { c.OpLatency = d }
}

func withQuota(metric string, limit int64) func(*fakegce.Config) {
	return func(c *fakegce.Config) {
		if c.Quotas == nil {
			c.Quotas = map[string]int64{}
		}
		c.Quotas[metric] = limit
	}
}

func withFaults(rules ...fakegce.FaultRule) func(*fakegce.Config) {
	return func(c *fakegce.Config) { c.Faults = rules }
}

// wait returns a function that takes a mutation's answer, blocks until its
// operation is DONE (with the operations resource of its scope) and fails the
// test when the request or the operation failed:
//
//	wait(t, c)(c.Compute.Firewalls.Insert(c.Project, fw).Do())
func wait(t testing.TB, c *fakegcetest.Cloud) func(*compute.Operation, error) *compute.Operation {
	return func(op *compute.Operation, err error) *compute.Operation {
		t.Helper()
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		done := waitDone(t, c, op)
		if done.Error != nil {
			t.Fatalf("operation %s (%s %s) failed: %s", done.Name, done.OperationType, done.TargetLink, opErrorText(done))
		}
		return done
	}
}

// doneOp returns a function that takes a mutation's answer and waits until
// its operation is DONE, as a client does before its next call; it returns
// the request's error, or the operation's as an error.
func doneOp(c *fakegcetest.Cloud) func(*compute.Operation, error) (*compute.Operation, error) {
	return func(op *compute.Operation, err error) (*compute.Operation, error) {
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if op, err = c.WaitOperation(ctx, op); err == nil && op.Error != nil {
			err = fmt.Errorf("operation %s failed: %s", op.Name, opErrorText(op))
		}
		return op, err
	}
}

// waitDone waits for op and returns it DONE, error or not.
func waitDone(t testing.TB, c *fakegcetest.Cloud, op *compute.Operation) *compute.Operation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done, err := c.WaitOperation(ctx, op)
	if err != nil {
		t.Fatalf("wait for operation %s: %v", op.Name, err)
	}
	return done
}

func opErrorText(op *compute.Operation) string {
	if op.Error == nil {
		return ""
	}
	var parts []string
	for _, e := range op.Error.Errors {
		parts = append(parts, e.Code+": "+e.Message)
	}
	return strings.Join(parts, "; ")
}

// apiError returns the HTTP status and the first reason of a *googleapi.Error
// (0 and "" for nil, and a test failure for any other error).
func apiError(t testing.TB, err error) (int, string) {
	t.Helper()
	if err == nil {
		return 0, ""
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *googleapi.Error", err, err)
	}
	if len(ge.Errors) == 0 {
		t.Fatalf("error %v has no errors[] items; the API always sends one", err)
	}
	return ge.Code, ge.Errors[0].Reason
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

func link(path string) string { return "https://www.googleapis.com/compute/v1/" + path }

// --- builders ---

func newNetwork(name string, opts ...func(*compute.Network)) *compute.Network {
	n := &compute.Network{Name: name, AutoCreateSubnetworks: true}
	for _, o := range opts {
		o(n)
	}
	return n
}

func customMode(n *compute.Network) {
	n.AutoCreateSubnetworks = false
	n.ForceSendFields = append(n.ForceSendFields, "AutoCreateSubnetworks")
}

func newSubnetwork(name, network, cidr string) *compute.Subnetwork {
	return &compute.Subnetwork{Name: name, Network: "global/networks/" + network, IpCidrRange: cidr}
}

func newFirewall(name string, opts ...func(*compute.Firewall)) *compute.Firewall {
	fw := &compute.Firewall{Name: name, Network: "global/networks/default",
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}}
	for _, o := range opts {
		o(fw)
	}
	return fw
}

func onNetwork(n string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.Network = "global/networks/" + n }
}

func withTargetTags(tags ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.TargetTags = tags }
}

func withSourceRanges(r ...string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.SourceRanges = r }
}

func withDescription(d string) func(*compute.Firewall) {
	return func(fw *compute.Firewall) { fw.Description = d }
}

func newInstance(name string, opts ...func(*compute.Instance)) *compute.Instance {
	in := &compute.Instance{
		Name:        name,
		MachineType: "zones/" + zone + "/machineTypes/e2-medium",
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default"}},
	}
	for _, o := range opts {
		o(in)
	}
	return in
}

func withExternalIP(in *compute.Instance) {
	in.NetworkInterfaces[0].AccessConfigs = []*compute.AccessConfig{{}}
}

func withTags(tags ...string) func(*compute.Instance) {
	return func(in *compute.Instance) { in.Tags = &compute.Tags{Items: tags} }
}

func withMetadata(kv ...string) func(*compute.Instance) {
	return func(in *compute.Instance) {
		md := &compute.Metadata{}
		for i := 0; i+1 < len(kv); i += 2 {
			v := kv[i+1]
			md.Items = append(md.Items, &compute.MetadataItems{Key: kv[i], Value: &v})
		}
		in.Metadata = md
	}
}

func newTargetPool(name string, instances ...string) *compute.TargetPool {
	tp := &compute.TargetPool{Name: name}
	for _, i := range instances {
		tp.Instances = append(tp.Instances, "zones/"+zone+"/instances/"+i)
	}
	return tp
}

func newForwardingRule(name, target string, opts ...func(*compute.ForwardingRule)) *compute.ForwardingRule {
	fr := &compute.ForwardingRule{Name: name, Target: "regions/" + region + "/targetPools/" + target, IPProtocol: "TCP", PortRange: "80"}
	for _, o := range opts {
		o(fr)
	}
	return fr
}

func withIP(ip string) func(*compute.ForwardingRule) {
	return func(fr *compute.ForwardingRule) { fr.IPAddress = ip }
}

func withProtocol(p, ports string) func(*compute.ForwardingRule) {
	return func(fr *compute.ForwardingRule) { fr.IPProtocol, fr.PortRange = p, ports }
}

// --- common setups ---

// defaultNetwork creates the auto-mode network "default".
func defaultNetwork(t testing.TB, c *fakegcetest.Cloud) {
	t.Helper()
	wait(t, c)(c.Compute.Networks.Insert(c.Project, newNetwork("default")).Do())
}

func insertFirewall(t testing.TB, c *fakegcetest.Cloud, fw *compute.Firewall) {
	t.Helper()
	wait(t, c)(c.Compute.Firewalls.Insert(c.Project, fw).Do())
}

func insertInstance(t testing.TB, c *fakegcetest.Cloud, in *compute.Instance) *compute.Instance {
	t.Helper()
	wait(t, c)(c.Compute.Instances.Insert(c.Project, zone, in).Do())
	got, err := c.Compute.Instances.Get(c.Project, zone, in.Name).Do()
	if err != nil {
		t.Fatalf("get instance %s: %v", in.Name, err)
	}
	return got
}

func insertTargetPool(t testing.TB, c *fakegcetest.Cloud, tp *compute.TargetPool) {
	t.Helper()
	wait(t, c)(c.Compute.TargetPools.Insert(c.Project, region, tp).Do())
}

func insertHTTPHealthCheck(t testing.TB, c *fakegcetest.Cloud, name string) {
	t.Helper()
	wait(t, c)(c.Compute.HttpHealthChecks.Insert(c.Project, &compute.HttpHealthCheck{Name: name}).Do())
}

func insertRegionHealthCheck(t testing.TB, c *fakegcetest.Cloud, name string) {
	t.Helper()
	wait(t, c)(c.Compute.RegionHealthChecks.Insert(c.Project, region, &compute.HealthCheck{Name: name, Type: "TCP",
		TcpHealthCheck: &compute.TCPHealthCheck{Port: 10256}}).Do())
}

func insertAddress(t testing.TB, c *fakegcetest.Cloud, name string) *compute.Address {
	t.Helper()
	wait(t, c)(c.Compute.Addresses.Insert(c.Project, region, &compute.Address{Name: name}).Do())
	a, err := c.Compute.Addresses.Get(c.Project, region, name).Do()
	if err != nil {
		t.Fatalf("get address %s: %v", name, err)
	}
	return a
}

// tokenClient is a compute client for c that sends "Authorization: Bearer token".
func tokenClient(t testing.TB, c *fakegcetest.Cloud, token string) *compute.Service {
	t.Helper()
	hc := &http.Client{Transport: bearer{token, c.HTTP.Client().Transport}}
	svc, err := compute.NewService(context.Background(), option.WithEndpoint(c.Endpoint), option.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// --- raw HTTP, for what the typed client hides ---

// rawJSON GETs or sends body to the fake and decodes the JSON answer.
func rawJSON(t testing.TB, c *fakegcetest.Cloud, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			r = strings.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			r = strings.NewReader(string(raw))
		}
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.HTTP.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out
}

// rawErr sends body and returns the answer as the Go client would: nil for a
// 2xx, a *googleapi.Error decoded from the body otherwise.
func rawErr(c *fakegcetest.Cloud, method, path, body string) error {
	req, err := http.NewRequest(method, c.HTTP.URL+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return googleapi.CheckResponse(resp)
}

func computePath(c *fakegcetest.Cloud, rest string) string {
	return fmt.Sprintf("/compute/v1/projects/%s/%s", c.Project, rest)
}

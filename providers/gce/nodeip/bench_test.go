package nodeip

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// statusLog records when each Service's status was patched.
type statusLog struct {
	mu    sync.Mutex
	times map[string][]time.Time
}

func (l *statusLog) record(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.times[name] = append(l.times[name], time.Now())
}

// firstAfter is the first patch of name at or after t.
func (l *statusLog) firstAfter(name string, t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, at := range l.times[name] {
		if !at.Before(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// since counts the patches of each Service at or after t.
func (l *statusLog) since(t time.Time) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for name, times := range l.times {
		for _, at := range times {
			if !at.Before(t) {
				out[name]++
			}
		}
	}
	return out
}

const (
	benchNodes    = 100
	benchServices = 1000
)

func benchNodeIP(i int) string { return fmt.Sprintf("10.1.%d.%d", i/200, i%200+1) }

// benchCluster: 100 Ready nodes; 1,000 nodeip Services, each on its own
// port; the odd ones have externalTrafficPolicy: Local with a ready
// endpoint on three consecutive nodes.
func benchCluster() []runtime.Object {
	var objs []runtime.Object
	for i := range benchNodes {
		objs = append(objs, newNode(fmt.Sprintf("n%03d", i), fixture.InternalIP(benchNodeIP(i))))
	}
	for i := range benchServices {
		name := fmt.Sprintf("svc-%04d", i)
		opts := []fixture.ServiceOption{withPorts(int32(20000 + i)), createdAt(time.Duration(i) * time.Second)}
		if i%2 == 1 {
			opts = append(opts, fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal))
			objs = append(objs, endpointSlice(name, name+"-1", localEndpoints(i, -1)))
		}
		objs = append(objs, newService(name, opts...))
	}
	return objs
}

// localEndpoints are the ready endpoints of Local Service i: nodes i, i+1
// and i+2 (mod 100), but the one at position unready (0..2) is not ready.
func localEndpoints(i, unready int) map[string]bool {
	out := map[string]bool{}
	for k := range 3 {
		out[fmt.Sprintf("n%03d", (i+k)%benchNodes)] = k != unready
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// benchWait waits until check holds, for as long as waitPatched does: on
// a machine under load the benchmark's process gets a fraction of a core,
// and 1,000 Services take longer than a test's patience to converge.
func benchWait(b *testing.B, what string, check func() (bool, string)) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, got := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: never happened; last: %s", what, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPatched waits until every Service in names has a status patch at or
// after its start time, and returns the delays.
func waitPatched(b *testing.B, log *statusLog, starts map[string]time.Time) []time.Duration {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var out []time.Duration
	pending := make([]string, 0, len(starts))
	for n := range starts {
		pending = append(pending, n)
	}
	sort.Strings(pending)
	for len(pending) > 0 {
		next := pending[:0]
		for _, n := range pending {
			if at, ok := log.firstAfter(n, starts[n]); ok {
				out = append(out, at.Sub(starts[n]))
			} else {
				next = append(next, n)
			}
		}
		pending = next
		if len(pending) > 0 {
			if time.Now().After(deadline) {
				b.Fatalf("%d Services never had their status patched, e.g. %s", len(pending), pending[0])
			}
			time.Sleep(time.Millisecond)
		}
	}
	return out
}

// BenchmarkReactionToNodeAndEndpointChanges measures, with 1,000 nodeip
// Services and 100 nodes, the time from a change to the status patch of
// every Service it affects:
//
//   - node-notready: a node turns NotReady (510 to 520 Services affected:
//     the 500 with externalTrafficPolicy Cluster and the Local ones with an
//     endpoint there); its address is unpublished;
//   - node-ready: the node comes back; the firewall rules open to it first
//     (one patch per Service through fake-gce), then it is published;
//   - endpoint: 100 EndpointSlices, changed at once, each loses a ready
//     endpoint on one node (one Service each).
//
// It reports p50 and p99 of each, and the status patches and firewall
// writes per change against the Services whose answer changed. For
// node-ready it also reports when each rule's patch had been answered
// (ready-firewall-*): the part of the wait spent before the status worker
// may publish the node. Everything runs in this one process (controller,
// fake clientset, fake-gce), so the figures follow the CPU it gets: the
// machine's load average is logged at the start and reported at the end
// (loadavg-1m).
func BenchmarkReactionToNodeAndEndpointChanges(b *testing.B) {
	b.Logf("load average at the start (/proc/loadavg): %s", loadAverage())
	log := &statusLog{times: map[string][]time.Time{}}
	h := startHarness(b, benchCluster(), simpleClientset(), beforeStart(func(h *harness) {
		h.client.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() == "status" {
				log.record(a.(k8stesting.PatchAction).GetName())
			}
			return false, nil, nil
		})
	}))
	// Converge: every Service publishes its nodes.
	benchWait(b, "every Service publishes", func() (bool, string) {
		svcs, _ := h.ctrl.services.List(labels.Everything())
		n := 0
		for _, s := range svcs {
			if len(s.Status.LoadBalancer.Ingress) > 0 {
				n++
			}
		}
		return n == benchServices, fmt.Sprintf("%d of %d", n, benchServices)
	})

	var notReady, ready, readyFirewall, endpoint []time.Duration
	var statusWrites, affected, fwWrites, strayWrites int
	// settle waits for the firewall to follow a change to the affected
	// Services (one rule write each), then counts the writes since since.
	settle := func(since time.Time, fwBefore int, hit map[string]time.Time) {
		benchWait(b, "the firewall rules follow", func() (bool, string) {
			w := h.firewallWrites() - fwBefore
			return w >= len(hit), fmt.Sprint(w)
		})
		for name, n := range log.since(since) {
			statusWrites += n
			if _, ok := hit[name]; !ok {
				strayWrites += n
				b.Logf("%d status patch(es) of %s since %s, which the change did not affect", n, name, since.Format("15:04:05.000"))
			}
		}
		affected += len(hit)
		fwWrites += h.firewallWrites() - fwBefore
	}
	round := 0
	for b.Loop() {
		b.StopTimer()
		h.cloud.Server.ResetCalls() // keeps counting the calls cheap
		h.client.ClearActions()     // the fake keeps a copy of every request
		b.StartTimer()
		node := (round * 37) % benchNodes
		nodeName := fmt.Sprintf("n%03d", node)
		round++

		for _, phase := range []struct {
			status v1.ConditionStatus
			into   *[]time.Duration
		}{{v1.ConditionFalse, &notReady}, {v1.ConditionTrue, &ready}} {
			fwBefore := h.firewallWrites()
			t0 := time.Now()
			h.updateNode(nodeName, func(n *v1.Node) { n.Status.Conditions[0].Status = phase.status })
			// The Services the node carries: the Cluster ones, and the
			// Local ones with an endpoint on it.
			hit := map[string]time.Time{}
			for i := range benchServices {
				if i%2 == 0 || slices.Contains([]int{i % benchNodes, (i + 1) % benchNodes, (i + 2) % benchNodes}, node) {
					hit[fmt.Sprintf("svc-%04d", i)] = t0
				}
			}
			got := waitPatched(b, log, hit)
			*phase.into = append(*phase.into, got...)
			if testing.Verbose() {
				b.Logf("round %d, node %s Ready=%s: %d Services, p50 %v, p99 %v", round, nodeName, phase.status, len(got), percentile(got, 0.5), percentile(got, 0.99))
			}
			settle(t0, fwBefore, hit)
			if phase.status == v1.ConditionTrue {
				readyFirewall = append(readyFirewall, firewallAnsweredSince(h, t0)...)
			}
		}

		// 100 Local Services each lose a ready endpoint, all at once.
		hit := map[string]time.Time{}
		indexes := map[string]int{}
		fwBefore, t0 := h.firewallWrites(), time.Now()
		for k := range 100 {
			i := 2*((round*100+k)%(benchServices/2)) + 1
			name := fmt.Sprintf("svc-%04d", i)
			indexes[name] = i
			hit[name] = time.Now()
			h.updateSlice(endpointSlice(name, name+"-1", localEndpoints(i, round%3)))
		}
		endpoint = append(endpoint, waitPatched(b, log, hit)...)
		settle(t0, fwBefore, hit)

		// Put the endpoints back and let it settle (not measured).
		b.StopTimer()
		for name, i := range indexes {
			h.updateSlice(endpointSlice(name, name+"-1", localEndpoints(i, -1)))
		}
		benchWait(b, "the endpoints' nodes are published again", func() (bool, string) {
			for name := range indexes {
				if svc, err := h.ctrl.services.Services("default").Get(name); err != nil || len(svc.Status.LoadBalancer.Ingress) != 3 {
					return false, name
				}
			}
			return true, ""
		})
		b.StartTimer()
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(notReady, 0.50)), "notready-p50-ms")
	b.ReportMetric(ms(percentile(notReady, 0.99)), "notready-p99-ms")
	b.ReportMetric(ms(percentile(ready, 0.50)), "ready-p50-ms")
	b.ReportMetric(ms(percentile(ready, 0.99)), "ready-p99-ms")
	b.ReportMetric(ms(percentile(readyFirewall, 0.50)), "ready-firewall-p50-ms")
	b.ReportMetric(ms(percentile(readyFirewall, 0.99)), "ready-firewall-p99-ms")
	b.ReportMetric(ms(percentile(endpoint, 0.50)), "endpoint-p50-ms")
	b.ReportMetric(ms(percentile(endpoint, 0.99)), "endpoint-p99-ms")
	b.ReportMetric(float64(statusWrites)/float64(affected), "status-writes/affected-svc")
	b.ReportMetric(float64(strayWrites), "status-writes-to-unaffected-svcs")
	b.ReportMetric(float64(fwWrites)/float64(affected), "firewall-writes/affected-svc")
	b.Logf("load average at the end (/proc/loadavg): %s", loadAverage())
	reportLoad(b)
}

// reportLoad reports the machine's 1-minute load average as the benchmark
// ends (loadavg-1m), next to the figures it explains.
func reportLoad(b *testing.B) {
	if f := strings.Fields(loadAverage()); len(f) > 0 {
		if l, err := strconv.ParseFloat(f[0], 64); err == nil {
			b.ReportMetric(l, "loadavg-1m")
		}
	}
}

// firewallAnsweredSince is, for each firewall patch fake-gce served since
// t0, the time from t0 to its answer.
func firewallAnsweredSince(h *harness, t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, c := range h.cloud.Server.Calls() {
		if c.API == "compute.firewalls.patch" && !c.Time.Before(t0) {
			out = append(out, c.Time.Add(time.Duration(c.Duration*float64(time.Second))).Sub(t0))
		}
	}
	return out
}

// loadAverage is the machine's /proc/loadavg ("unknown" where there is
// none): the 1-, 5- and 15-minute load averages first.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// hostilePorts are the ports of a Service that asks for 10260-40259: 30,000
// ports, past the kubelet's and the scheduler's, over the NodePort range.
func hostilePorts() fixture.ServiceOption {
	return func(s *v1.Service) {
		for p := int32(10260); p <= 40259; p++ {
			s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: fmt.Sprintf("p%d", p), Protocol: v1.ProtocolTCP, Port: p})
		}
	}
}

// decisionController is the controller on synced informers of objs, not
// running: a benchmark calls its decisions one at a time.
func decisionController(b *testing.B, objs []runtime.Object) *Controller {
	b.Helper()
	cloud := fakegcetest.Start(b, fakegce.Config{})
	api, err := computeclient.New(context.Background(), computeclient.Config{Project: cloud.Project, Endpoint: cloud.Endpoint, HTTPClient: cloud.HTTP.Client()})
	if err != nil {
		b.Fatal(err)
	}
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	deps := Deps{Compute: api, Owner: testOwner, Network: testNetwork, NodeTags: []string{"k8s-node"},
		FirewallName: testFirewallName, FirewallNameIPv6: testFirewallNameIPv6, Defaults: testDefaults()}
	c, err := New(client, factory.Core().V1().Services(), factory.Core().V1().Nodes(), factory.Discovery().V1().EndpointSlices(), deps, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(func() { cancel(); factory.Shutdown() })
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return c
}

// BenchmarkPortDecisionWithAHostileService measures one port decision
// (answerFor: the candidate, its competitors and the conflicts) on 100
// nodes:
//
//   - hostile: the decision of a Service that asks for 30,000 ports
//     (10260-40259);
//   - newer-sharing-a-port: the decision of a newer Service that shares one
//     port with it, which every node change makes again (with the hostile
//     Service published, the conflicts are resolved across all its ports
//     and nodes);
//   - chain-of-50-at-100-ports: the newest of 50 Services of 100 ports
//     each, every one sharing 50 ports with the next, so that deciding it
//     reads all 50.
//
// B/op is the memory one decision allocates; ns/op its time; loadavg-1m
// the machine's load as it ended.
func BenchmarkPortDecisionWithAHostileService(b *testing.B) {
	objs := []runtime.Object{
		newService("hostile", hostilePorts(), createdAt(0)),
		newService("newer", withPorts(20000), createdAt(time.Minute)),
	}
	for i := range 50 {
		var ports []int32
		for p := range int32(100) {
			ports = append(ports, 41000+int32(i)*50+p)
		}
		objs = append(objs, newService(fmt.Sprintf("chain-%02d", i), withPorts(ports...), createdAt(time.Hour+time.Duration(i)*time.Minute)))
	}
	for i := range benchNodes {
		objs = append(objs, newNode(fmt.Sprintf("n%03d", i), fixture.InternalIP(benchNodeIP(i))))
	}
	c := decisionController(b, objs)
	for _, bench := range []struct{ name, service string }{
		{"hostile", "hostile"}, {"newer-sharing-a-port", "newer"}, {"chain-of-50-at-100-ports", "chain-49"},
	} {
		svc, err := c.services.Services("default").Get(bench.service)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.answerFor(svc)
			}
			reportLoad(b)
		})
	}
}

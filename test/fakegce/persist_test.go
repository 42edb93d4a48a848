package fakegce_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// TestEveryAnsweredMutationSurvivesKill9AndRestart runs the binary with a
// state file, changes things, kills it with SIGKILL (one operation still
// pending) and checks that a restarted process has all of it.
func TestEveryAnsweredMutationSurvivesKill9AndRestart(t *testing.T) {
	bin := buildFakeGCE(t)
	state := filepath.Join(t.TempDir(), "state.json")
	args := []string{"--state-file", state, "--op-latency", "150ms"}

	p := runFakeGCE(t, bin, args...)
	cs, pr := p.compute, p.project
	p.waitOp(t)(cs.Networks.Insert(pr, newNetwork("default")).Do())
	p.waitOp(t)(cs.Firewalls.Insert(pr, newFirewall("fw", withTargetTags("web"))).Do())
	p.waitOp(t)(cs.Firewalls.Insert(pr, newFirewall("gone")).Do())
	p.waitOp(t)(cs.Firewalls.Patch(pr, "fw", &compute.Firewall{Description: "patched"}).Do())
	p.waitOp(t)(cs.Firewalls.Delete(pr, "gone").Do())
	p.waitOp(t)(cs.Addresses.Insert(pr, region, &compute.Address{Name: "addr"}).Do())
	p.waitOp(t)(cs.Instances.Insert(pr, zone, newInstance("vm", withTags("a"))).Do())
	vm, err := cs.Instances.Get(pr, zone, "vm").Do()
	if err != nil {
		t.Fatal(err)
	}
	p.waitOp(t)(cs.Instances.SetTags(pr, zone, "vm", &compute.Tags{Items: []string{"b"}, Fingerprint: vm.Tags.Fingerprint}).Do())
	before := snapshot(t, p)
	pending, err := cs.Firewalls.Insert(pr, newFirewall("pending")).Do()
	if err != nil {
		t.Fatal(err)
	}
	if pending.Status == "DONE" {
		t.Fatalf("the last operation is already DONE; it must be pending at the kill")
	}
	p.kill()

	q := runFakeGCE(t, bin, args...)
	if diff := cmp.Diff(before, snapshot(t, q)); diff != "" {
		t.Errorf("state after kill -9 and restart (-before +after):\n%s", diff)
	}
	op, err := q.compute.GlobalOperations.Get(pr, pending.Name).Do()
	if err != nil {
		t.Fatalf("the operation pending at the kill is gone: %v", err)
	}
	q.waitOp(t)(op, nil)
	fw, err := q.compute.Firewalls.Get(pr, "pending").Do()
	if err != nil {
		t.Fatalf("the firewall of the pending operation was not created after restart: %v", err)
	}
	if fw.Id != pending.TargetId {
		t.Errorf("firewall id %d, want the operation's targetId %d", fw.Id, pending.TargetId)
	}
	// New ids after the restart do not repeat old ones.
	q.waitOp(t)(q.compute.Firewalls.Insert(pr, newFirewall("after")).Do())
	after, err := q.compute.Firewalls.Get(pr, "after").Do()
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range before {
		if strings.HasSuffix(name, " id") && id == jsonUint(after.Id) {
			t.Errorf("new firewall got the id %s of %s", id, name)
		}
	}
}

// snapshot is what a test compares across restarts: the fields a client
// relies on, by resource.
func snapshot(t *testing.T, p *fakeProcess) map[string]string {
	t.Helper()
	cs, pr := p.compute, p.project
	out := map[string]string{}
	fws, err := cs.Firewalls.List(pr).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fws.Items {
		if f.Name == "pending" {
			continue
		}
		out["firewall "+f.Name+" id"] = jsonUint(f.Id)
		out["firewall "+f.Name] = f.Description + " " + strings.Join(f.TargetTags, ",") + " " + f.Network
	}
	n, err := cs.Networks.Get(pr, "default").Do()
	if err != nil {
		t.Fatal(err)
	}
	out["network default id"] = jsonUint(n.Id)
	out["network default"] = strings.Join(n.Subnetworks, ",")
	a, err := cs.Addresses.Get(pr, region, "addr").Do()
	if err != nil {
		t.Fatal(err)
	}
	out["address addr"] = a.Address + " " + a.Status
	vm, err := cs.Instances.Get(pr, zone, "vm").Do()
	if err != nil {
		t.Fatal(err)
	}
	out["instance vm"] = vm.Status + " " + vm.NetworkInterfaces[0].NetworkIP + " " + strings.Join(vm.Tags.Items, ",") + " " + vm.Tags.Fingerprint
	ops, err := cs.GlobalOperations.List(pr).Filter(`status = "DONE"`).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops.Items {
		if lastSegment(op.TargetLink) == "pending" {
			continue // it may be done by the time of either snapshot
		}
		out["operation "+op.Name] = op.OperationType + " " + lastSegment(op.TargetLink)
	}
	return out
}

func TestACorruptStateFileStopsTheServerWithOneLine(t *testing.T) {
	dir := t.TempDir()
	good := `{"seq":1,"w":[]}` + "\n"
	tests := []struct {
		name, content, want string
	}{
		{"a line that is not JSON", good + "{not json\n", "line 2 is not a state record"},
		{"a line cut short by a crash mid-write", good + `{"seq":2,"w":[{"c":"projects/p/global/fire`, "line 2 is cut short"},
		{"a write without a collection", good + `{"seq":2,"w":[{"n":"x","o":{}}]}` + "\n", "line 2 has a write without a collection or name"},
	}
	bin := buildFakeGCE(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := fakegce.New(fakegce.Config{StateFile: path})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) ||
				strings.Contains(err.Error(), "\n") {
				t.Errorf("New = %v, want one line naming %s and saying %q", err, path, tt.want)
			}
			cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--state-file", path)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err = cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Errorf("the binary exited with %v, want exit status 1", err)
			}
			if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 ||
				!strings.HasPrefix(lines[0], "fake-gce: state file "+path) || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr = %q, want one line naming the state file and saying %q", stderr.String(), tt.want)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.content {
				t.Errorf("the corrupt file was changed; it must be left for the user to inspect")
			}
		})
	}
}

func TestResetEmptiesThePersistedState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	c := start(t, func(cfg *fakegce.Config) { cfg.StateFile = state })
	defaultNetwork(t, c)
	insertFirewall(t, c, newFirewall("before-reset"))
	if code, _ := rawJSON(t, c, "POST", "/admin/v1/reset", nil); code != 204 {
		t.Fatalf("reset = %d, want 204", code)
	}
	defaultNetwork(t, c)
	insertFirewall(t, c, newFirewall("after-reset"))
	c.HTTP.Close()
	if err := c.Server.Close(); err != nil {
		t.Fatal(err)
	}

	srv, err := fakegce.New(fakegce.Config{StateFile: state})
	if err != nil {
		t.Fatalf("restart after reset: %v", err)
	}
	defer srv.Close()
	var fws []string
	for k := range srv.State() {
		if strings.Contains(k, "/firewalls/") {
			fws = append(fws, lastSegment(k))
		}
	}
	if diff := cmp.Diff([]string{"after-reset"}, fws); diff != "" {
		t.Errorf("firewalls after reset and restart (-want +got):\n%s", diff)
	}
}

func TestARetriedRequestIDFindsItsOperationAfterARestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	withState := func(cfg *fakegce.Config) { cfg.StateFile = state }
	const rid = "6f1d2c3b-0000-4000-8000-000000000042"
	c := start(t, withState)
	defaultNetwork(t, c)
	first := wait(t, c)(c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).RequestId(rid).Do())
	c.HTTP.Close()
	if err := c.Server.Close(); err != nil {
		t.Fatal(err)
	}

	c = start(t, withState)
	retry, err := c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).RequestId(rid).Do()
	if err != nil {
		t.Fatalf("retry after restart: %v, want the first operation", err)
	}
	if retry.Name != first.Name {
		t.Errorf("retry answered %s, want %s", retry.Name, first.Name)
	}
	if code, _ := rawJSON(t, c, "POST", "/admin/v1/reset", nil); code != 204 {
		t.Fatalf("reset = %d", code)
	}
	defaultNetwork(t, c)
	again := wait(t, c)(c.Compute.Firewalls.Insert(c.Project, newFirewall("fw")).RequestId(rid).Do())
	if again.Name == first.Name {
		t.Errorf("after a reset the requestId still answered the old operation %s", first.Name)
	}
}

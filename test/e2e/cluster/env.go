package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
)

// RepoRoot finds the repository's root from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/cloud-provider-vpc/cloud-provider-vpc\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the cloud-provider-vpc repository")
		}
		dir = parent
	}
}

// KubeBinDir is where the Kubernetes binaries are: $KUBE_BIN_DIR, else the
// repository's _output/bin (hack/build-kube-binaries.sh). It checks that
// the control plane's binaries are there.
func KubeBinDir(repo string) (string, error) {
	dir := os.Getenv("KUBE_BIN_DIR")
	if dir == "" {
		dir = filepath.Join(repo, "_output", "bin")
	}
	return dir, KubeBinaries(dir)
}

// KubeBinaries checks that hack/build-kube-binaries.sh has built what the
// control plane needs into dir.
func KubeBinaries(dir string) error {
	for _, b := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return fmt.Errorf("%s is missing from %s: run make kube-binaries (or hack/build-kube-binaries.sh)", b, dir)
		}
	}
	return nil
}

// BuildTree builds this repository's commands into out.
func BuildTree(ctx context.Context, repo, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out+"/", "./cmd/vpc-cloud-controller-manager", "./cmd/fake-gce")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

// FakeGCE is a running fake-gce process.
type FakeGCE struct {
	proc     *process
	Host     string // 127.0.0.1:PORT, also GCE_METADATA_HOST
	Endpoint string // http://127.0.0.1:PORT/compute/v1/
	Compute  *compute.Service
	Project  string
}

// StartFakeGCE runs the fake-gce binary on a loopback port (0: any free one)
// and waits for it.
func StartFakeGCE(ctx context.Context, dir, bin string, port int, args ...string) (*FakeGCE, error) {
	var err error
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	proc, err := startProcess(dir, "fake-gce", bin, append([]string{"--listen=" + host}, args...), nil)
	if err != nil {
		return nil, err
	}
	f := &FakeGCE{proc: proc, Host: host, Endpoint: "http://" + host + "/compute/v1/", Project: "fake-project"}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitFor(wctx, proc, "fake-gce", func() error { return Healthy("http://" + host + "/healthz") }); err != nil {
		proc.stop(time.Second)
		return nil, err
	}
	f.Compute, err = compute.NewService(ctx, option.WithEndpoint(f.Endpoint), option.WithoutAuthentication())
	if err != nil {
		proc.stop(time.Second)
		return nil, err
	}
	return f, nil
}

// Stop stops fake-gce.
func (f *FakeGCE) Stop() { f.proc.stop(5 * time.Second) }

// Kill is kill -9 of fake-gce.
func (f *FakeGCE) Kill() { f.proc.kill() }

// Healthy is nil when url answers 200; a component's self-signed serving
// certificate is not checked.
func Healthy(url string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// CCM is a running vpc-cloud-controller-manager.
type CCM struct {
	Name       string
	proc       *process
	HealthzURL string
}

// StartCCM runs the CCM binary with the standard flags for this control
// plane and the given extra ones, and waits for its /healthz.
func StartCCM(ctx context.Context, dir, bin, name, kubeconfig, cloudConfig, clusterName string, extra ...string) (*CCM, error) {
	return StartCCMWithEnv(ctx, dir, bin, name, kubeconfig, cloudConfig, clusterName, nil, extra...)
}

// StartCCMWithEnv is StartCCM with extra environment variables (NAME=value).
func StartCCMWithEnv(ctx context.Context, dir, bin, name, kubeconfig, cloudConfig, clusterName string, env []string, extra ...string) (*CCM, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--cloud-provider=gce", "--cloud-config=" + cloudConfig, "--cluster-name=" + clusterName,
		"--kubeconfig=" + kubeconfig, "--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--leader-elect=true", "--leader-elect-resource-name=cloud-controller-manager",
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s",
		"--use-service-account-credentials=false", "--configure-cloud-routes=false", "--allocate-node-cidrs=false",
		"--node-monitor-period=1s", "--v=2",
	}
	args = append(args, extra...)
	proc, url, err := startServing(ctx, dir, name, bin, args, env, port)
	if err != nil {
		return nil, err
	}
	return &CCM{Name: name, proc: proc, HealthzURL: url}, nil
}

// startServing starts a process that serves /healthz on 127.0.0.1:port and
// waits up to a minute for it to answer 200; a process that does not is
// stopped.
func startServing(ctx context.Context, dir, name, bin string, args, env []string, port int) (*process, string, error) {
	proc, err := startProcess(dir, name, bin, args, env)
	if err != nil {
		return nil, "", err
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitFor(wctx, proc, name, func() error { return Healthy(url) }); err != nil {
		proc.stop(time.Second)
		return nil, "", err
	}
	return proc, url, nil
}

// Stop stops the CCM gracefully; Kill is kill -9.
func (c *CCM) Stop() { c.proc.stop(10 * time.Second) }
func (c *CCM) Kill() { c.proc.kill() }

// Running reports whether the CCM process is alive.
func (c *CCM) Running() bool { return c.proc.running() }

// LogPath is the CCM's log file.
func (c *CCM) LogPath() string { return c.proc.logPath }

// LogContains reports whether the CCM's log has a line containing s.
func (c *CCM) LogContains(s string) bool {
	f, err := os.Open(c.proc.logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}

// PeakRSS is the CCM's peak resident memory so far (VmHWM), in bytes.
func (c *CCM) PeakRSS() (int64, error) { return peakRSS(c.proc.cmd.Process.Pid) }

func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

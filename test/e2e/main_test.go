// Package e2e is the end-to-end suite: real etcd and kube-apiserver (built
// from the Kubernetes modules by hack/build-kube-binaries.sh), fake-gce and
// the vpc-cloud-controller-manager binary built from this tree, with the RBAC
// of deploy/, and simulated kubelets; the real* tests add kube-controller-manager,
// kube-scheduler and hollow kubelets (the real kubelet code with a fake
// container runtime). Run it with make e2e (or make test).
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// suite is what every test shares: one control plane, one fake cloud, the
// binaries, and the CCM's credentials from deploy/.
type suite struct {
	dir         string
	bin         string
	repo        string // the repository's root
	kubeBin     string // the Kubernetes and etcd binaries (hack/build-kube-binaries.sh)
	cp          *cluster.ControlPlane
	cloud       *cluster.FakeGCE
	ccmConfig   string // kubeconfig with the CCM's ServiceAccount token
	cloudConfig string // gce.conf from deploy/overlays/fake-gce, pointed at this fake
	rendered    []*unstructured.Unstructured
}

var s *suite

func TestMain(m *testing.M) {
	code, err := runSuite(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runSuite(m *testing.M) (int, error) {
	repo, err := cluster.RepoRoot()
	if err != nil {
		return 0, err
	}
	kubeBin, err := cluster.KubeBinDir(repo)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "cpv-e2e-")
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	s = &suite{dir: dir, bin: filepath.Join(dir, "bin"), repo: repo, kubeBin: kubeBin}
	failed := true
	defer func() {
		if failed {
			fmt.Fprintf(os.Stderr, "e2e: logs of every component are kept in %s/logs\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	if err := cluster.BuildTree(ctx, repo, s.bin); err != nil {
		return 0, err
	}
	s.cloud, err = cluster.StartFakeGCE(ctx, dir, filepath.Join(s.bin, "fake-gce"), 0, "--zones=us-central1-a,us-central1-b,us-central1-c")
	if err != nil {
		return 0, err
	}
	defer s.cloud.Stop()
	if err := s.cloud.EnsureVPC(ctx); err != nil {
		return 0, err
	}
	s.cp, err = cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Dir: dir, BinDir: kubeBin})
	if err != nil {
		return 0, err
	}
	defer s.cp.Stop()
	if err := s.installCCMManifests(ctx, repo); err != nil {
		return 0, err
	}
	code := m.Run()
	failed = code != 0
	return code, nil
}

// installCCMManifests applies deploy/overlays/fake-gce server-side and
// prepares the CCM's kubeconfig (a token of its ServiceAccount, so the suite
// runs with the manifests' RBAC) and cloud config (the manifests' gce.conf,
// pointed at this run's fake-gce).
func (s *suite) installCCMManifests(ctx context.Context, repo string) error {
	objs, err := deploy.Render(filepath.Join(repo, "deploy", "overlays", "fake-gce"))
	if err != nil {
		return err
	}
	s.rendered = objs
	if err := s.cp.Apply(ctx, objs); err != nil {
		return err
	}
	token, err := s.cp.ServiceAccountToken(ctx, "kube-system", "cloud-controller-manager")
	if err != nil {
		return err
	}
	s.ccmConfig = filepath.Join(s.dir, "ccm.kubeconfig")
	if err := s.cp.WriteKubeconfig(s.ccmConfig, "cloud-controller-manager", token); err != nil {
		return err
	}
	conf, err := cluster.CloudConfig(objs, s.cloud.Endpoint)
	if err != nil {
		return err
	}
	s.cloudConfig = filepath.Join(s.dir, "gce.conf")
	return os.WriteFile(s.cloudConfig, []byte(conf), 0o600)
}

// startCCM starts a CCM for the test, stopped when the test ends.
func startCCM(t *testing.T, name string, extra ...string) *cluster.CCM {
	t.Helper()
	c, err := cluster.StartCCM(context.Background(), s.dir, filepath.Join(s.bin, "vpc-cloud-controller-manager"),
		name, s.ccmConfig, s.cloudConfig, "e2e", extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// startOwnControlPlane starts etcd and kube-apiserver of the test's own
// beside the suite's, in s.dir/name, stopped when the test ends.
func startOwnControlPlane(t *testing.T, name string) *cluster.ControlPlane {
	t.Helper()
	dir := filepath.Join(s.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cp, err := cluster.StartControlPlane(context.Background(), cluster.ControlPlaneOptions{Dir: dir, BinDir: s.kubeBin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	return cp
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	if err := cluster.Until(timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}

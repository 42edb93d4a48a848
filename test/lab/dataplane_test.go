package lab_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// dataPlaneTable is the nftables table the data plane owns in the vpc
// namespace (test/lab/dataplane).
const dataPlaneTable = "cpv_vpc"

// startDataPlane builds and runs cmd/fake-gce-dataplane against this
// run's fake-gce, programming the vpc namespace. It runs as a process of its
// own in the host namespace (it reaches fake-gce on 127.0.0.1 and enters the
// vpc namespace itself, so its health probes start there), and waits until
// its first apply has made its table.
func (e *env) startDataPlane(ctx context.Context, repo string) error {
	bin := filepath.Join(e.bin, "fake-gce-dataplane")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/fake-gce-dataplane")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/fake-gce-dataplane: %v\n%s", err, out)
	}
	// The nodes' guest environment: the local routes of the forwarding
	// rules each node backs.
	var guests []string
	for _, n := range e.lab.Nodes {
		guests = append(guests, n.InternalIP.String()+"="+n.NS)
	}
	var err error
	e.dataplane, err = cluster.StartProcess(e.dir, "fake-gce-dataplane", bin, []string{
		"--endpoint=http://" + e.cloud.Host, "--project=" + e.cloud.Project, "--regions=" + region,
		"--network=" + network, "--netns=" + e.lab.VPC, "--guest-netns=" + strings.Join(guests, ","), "--v=2",
	}, nil)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return e.dataplane.WaitReady(wctx, func() error { return hasTable(e.lab.VPC, dataPlaneTable) })
}

// hasTable reports whether namespace ns has the IPv4 nftables table name.
func hasTable(ns, name string) error {
	fd, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer fd.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(fd)))
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	_, err = c.ListTableOfFamily(name, nftables.TableFamilyIPv4)
	return err
}

package fakegce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

// Resource ids are uint64 in the discovery document, but real ones fit in a
// signed 64-bit integer, and clients rely on it: the Google terraform
// provider reads a subnetwork's id into an int64 (subnetwork_id).

func TestEveryGeneratedIDFitsInASignedInt64(t *testing.T) {
	for _, seed := range []uint64{0, 1, 42, 1 << 40} {
		for i, id := range fakegce.NewIDs(seed, 200000) {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				t.Fatalf("seed %d, id %d: %s does not fit in int64: %v", seed, i, id, err)
			}
			if n < 1e18 {
				t.Fatalf("seed %d, id %d: %s has fewer than 19 digits, unlike the API's ids", seed, i, id)
			}
		}
	}
}

func TestIDsOfInsertedSubnetworksReadAsInt64(t *testing.T) {
	c := fakegcetest.Start(t, fakegce.Config{})
	ctx := context.Background()
	op, err := c.Compute.Networks.Insert(c.Project, &compute.Network{Name: "net", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		name := fmt.Sprintf("sub-%d", i)
		op, err := c.Compute.Subnetworks.Insert(c.Project, "us-central1", &compute.Subnetwork{
			Name: name, Network: "global/networks/net", IpCidrRange: fmt.Sprintf("10.%d.0.0/24", i)}).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
		// Read the id as terraform does: into an int64.
		status, body := sendTo(t, c, "GET", "projects/"+c.Project+"/regions/us-central1/subnetworks/"+name, "", "")
		var sub struct {
			ID int64 `json:"id,string"`
		}
		if err := json.Unmarshal(body, &sub); status != 200 || err != nil {
			t.Fatalf("subnetwork %s: %d %s: %v", name, status, body, err)
		}
	}
}

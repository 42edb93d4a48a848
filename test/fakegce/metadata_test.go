package fakegce_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"cloud.google.com/go/compute/metadata"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// TestTheMetadataServerDescribesTheCurrentInstance reads the metadata server
// through cloud.google.com/go/compute/metadata, pointed at the fake with
// GCE_METADATA_HOST. The package caches the project id for the whole test
// binary, so this is the only test that asks for it.
func TestTheMetadataServerDescribesTheCurrentInstance(t *testing.T) {
	c := start(t, func(cfg *fakegce.Config) {
		cfg.MetadataInstance = zone + "/node-1"
		cfg.RequireToken = "meta-token"
		cfg.ServeMetadataToken = true
	})
	t.Setenv("GCE_METADATA_HOST", c.Host)
	// The compute API needs the token; admin is the fake with a client that sends it.
	authed := *c
	authed.Compute = tokenClient(t, c, "meta-token")
	admin := authed.Compute
	wait(t, &authed)(admin.Networks.Insert(c.Project, newNetwork("default")).Do())
	wait(t, &authed)(admin.Instances.Insert(c.Project, zone, newInstance("node-1", withExternalIP, withTags("k8s-node"),
		withMetadata("cluster-name", "demo"))).Do())
	vm, err := admin.Instances.Get(c.Project, zone, "node-1").Do()
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	md := metadata.NewClient(&http.Client{})
	read := func(f func(context.Context) (string, error)) string {
		v, err := f(ctx)
		if err != nil {
			return "error: " + err.Error()
		}
		return v
	}
	got := map[string]string{
		"ProjectID":    read(md.ProjectIDWithContext),
		"Zone":         read(md.ZoneWithContext),
		"InstanceName": read(md.InstanceNameWithContext),
		"Hostname":     read(md.HostnameWithContext),
		"InternalIP":   read(md.InternalIPWithContext),
		"ExternalIP":   read(md.ExternalIPWithContext),
		"InstanceID":   read(md.InstanceIDWithContext),
		"InstanceAttributeValue": read(func(ctx context.Context) (string, error) {
			return md.InstanceAttributeValueWithContext(ctx, "cluster-name")
		}),
	}
	want := map[string]string{
		"ProjectID":              c.Project,
		"Zone":                   zone,
		"InstanceName":           "node-1",
		"Hostname":               "node-1." + zone + ".c." + c.Project + ".internal",
		"InternalIP":             vm.NetworkInterfaces[0].NetworkIP,
		"ExternalIP":             vm.NetworkInterfaces[0].AccessConfigs[0].NatIP,
		"InstanceID":             jsonUint(vm.Id),
		"InstanceAttributeValue": "demo",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if num := read(md.NumericProjectIDWithContext); !regexp.MustCompile(`^[1-9][0-9]{11}$`).MatchString(num) {
		t.Errorf("numeric project id = %q, want 12 digits", num)
	}
	if p, err := c.Compute.Projects.Get(c.Project).Do(); err == nil {
		t.Errorf("the compute API answered without a token: %+v", p)
	}
	tags, err := md.InstanceTagsWithContext(ctx)
	if err != nil || !cmp.Equal([]string{"k8s-node"}, tags) {
		t.Errorf("instance tags = %v (%v), want [k8s-node]", tags, err)
	}
	if !md.OnGCEWithContext(ctx) {
		t.Errorf("OnGCE = false, want true with GCE_METADATA_HOST set")
	}

	t.Run("the token endpoint hands out the token the API requires, when asked to", func(t *testing.T) {
		raw, err := md.GetWithContext(ctx, "instance/service-accounts/default/token")
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
			TokenType   string `json:"token_type"`
		}
		if err := json.Unmarshal([]byte(raw), &tok); err != nil {
			t.Fatalf("token %q: %v", raw, err)
		}
		if tok.AccessToken != "meta-token" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
			t.Errorf("token = %+v, want the required token as a Bearer token that expires", tok)
		}
		if _, err := tokenClient(t, c, tok.AccessToken).Projects.Get(c.Project).Do(); err != nil {
			t.Errorf("the metadata token does not open the API: %v", err)
		}
	})
	t.Run("the metadata follows changes made through the API", func(t *testing.T) {
		v := "other"
		wait(t, &authed)(admin.Instances.SetMetadata(c.Project, zone, "node-1", &compute.Metadata{Fingerprint: vm.Metadata.Fingerprint,
			Items: []*compute.MetadataItems{{Key: "cluster-name", Value: &v}}}).Do())
		if got, err := md.InstanceAttributeValueWithContext(ctx, "cluster-name"); err != nil || got != "other" {
			t.Errorf("attribute after setMetadata = %q (%v), want other", got, err)
		}
	})
	t.Run("a request without Metadata-Flavor: Google is refused with 403", func(t *testing.T) {
		resp, err := http.Get("http://" + c.Host + "/computeMetadata/v1/instance/name")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status = %d, want 403", resp.StatusCode)
		}
	})
	t.Run("a path the server does not have is 404", func(t *testing.T) {
		if _, err := md.GetWithContext(ctx, "instance/no-such-thing"); err == nil {
			t.Errorf("get of a missing path succeeded")
		}
	})
}

func jsonUint(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

package gce

import (
	"context"
	"strings"
	"testing"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

func TestNewRefusesTheDefaultClusterNameBeforeAskingTheCloudAnything(t *testing.T) {
	// Nothing listens here: a provider that asked the metadata server or the
	// API first would fail with another error.
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	cfg := &cloudconfig.Config{NodeTags: []string{"k8s-node"}, APIEndpoint: "http://127.0.0.1:1/compute/v1/", NoAuthentication: true, Regional: true}
	for _, name := range []string{"", "kubernetes"} {
		_, err := New(context.Background(), cfg, Options{ClusterName: name})
		if err == nil || !strings.HasPrefix(err.Error(), "--cluster-name is ") {
			t.Errorf("New with --cluster-name=%q: err = %v, want the cluster name refused", name, err)
		}
	}
}

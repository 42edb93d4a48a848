package upstreamgce

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2/google"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/cloud-provider-gcp/providers/gce"
)

const (
	networkName    = "upstream-vpc"
	subnetworkName = "upstream-nodes"
	// nodePrefix is both the instances' name prefix and their network tag:
	// the provider targets its firewall rules at the longest tag that
	// prefixes an instance's name (gce_instances.go computeHostTags).
	nodePrefix  = "upstream-node"
	clusterName = "upstream"
)

// instance is a VM the test creates and the Node that names it.
type instance struct{ name, zone string }

var instances = []instance{
	{nodePrefix + "-a1", zoneA},
	{nodePrefix + "-a2", zoneA},
	{nodePrefix + "-b1", zoneB},
}

// upstreamCloud is a fake-gce with a custom-mode VPC, its subnetwork and the
// instances, and the upstream provider configured for them.
type upstreamCloud struct {
	fake  *fakeGCE
	gce   *gce.Cloud
	kube  *fake.Clientset
	nodes []*v1.Node
}

func newUpstreamCloud(t *testing.T, configure ...func(*gce.CloudConfig)) *upstreamCloud {
	t.Helper()
	f := startFakeGCE(t)
	f.wait(t, "insert network")(f.compute.Networks.Insert(project, &compute.Network{
		Name: networkName, AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"},
	}).Do())
	f.wait(t, "insert subnetwork")(f.compute.Subnetworks.Insert(project, region, &compute.Subnetwork{
		Name: subnetworkName, Network: "global/networks/" + networkName, IpCidrRange: "10.128.0.0/20",
	}).Do())
	var nodes []*v1.Node
	for _, in := range instances {
		f.wait(t, "insert instance "+in.name)(f.compute.Instances.Insert(project, in.zone, &compute.Instance{
			Name:        in.name,
			MachineType: "zones/" + in.zone + "/machineTypes/e2-medium",
			Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
				InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
			NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: "regions/" + region + "/subnetworks/" + subnetworkName}},
			Tags:              &compute.Tags{Items: []string{nodePrefix}},
		}).Do())
		nodes = append(nodes, newNode(in))
	}

	// The provider reads its access token from the metadata server, as it
	// does on a real VM; fake-gce serves the token it requires.
	t.Setenv("GCE_METADATA_HOST", f.host)
	config := &gce.CloudConfig{
		APIEndpoint:        f.endpoint,
		ProjectID:          project,
		Region:             region,
		Zone:               zoneA,
		ManagedZones:       []string{zoneA, zoneB},
		NetworkName:        networkName,
		SubnetworkName:     subnetworkName,
		NodeInstancePrefix: nodePrefix,
		TokenSource:        google.ComputeTokenSource(""),
		AlphaFeatureGate:   gce.NewAlphaFeatureGate(nil),
	}
	for _, c := range configure {
		c(config)
	}
	cloud, err := gce.CreateGCECloud(config)
	if err != nil {
		t.Fatalf("CreateGCECloud: %v", err)
	}
	kube := fake.NewSimpleClientset()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	cloud.Initialize(clientBuilder{kube}, stop)
	// Initialize starts the watch that keeps the cluster ID; the ID exists
	// once the provider has stored it in its ConfigMap.
	err = wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, time.Minute, true,
		func(context.Context) (bool, error) {
			_, err := cloud.ClusterID.GetID()
			return err == nil, nil
		})
	if err != nil {
		t.Fatalf("the provider never stored its cluster ID: %v", err)
	}
	return &upstreamCloud{fake: f, gce: cloud, kube: kube, nodes: nodes}
}

// newNode is the Node the kubelet of an instance registers, as far as the
// provider reads it: its name (the instance's), zone label and providerID.
func newNode(in instance) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: in.name, Labels: map[string]string{
			v1.LabelTopologyZone:   in.zone,
			v1.LabelTopologyRegion: region,
		}},
		Spec:   v1.NodeSpec{ProviderID: "gce://" + project + "/" + in.zone + "/" + in.name},
		Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
	}
}

// clientBuilder hands the provider client-go's fake clientset: the
// provider keeps its cluster ID in a ConfigMap and records events and
// Service finalizers through it; the cloud side is what is under test.
type clientBuilder struct{ kube *fake.Clientset }

func (b clientBuilder) Config(string) (*rest.Config, error)         { return &rest.Config{}, nil }
func (b clientBuilder) ConfigOrDie(string) *rest.Config             { return &rest.Config{} }
func (b clientBuilder) Client(string) (kubernetes.Interface, error) { return kubeClient{b.kube}, nil }
func (b clientBuilder) ClientOrDie(string) kubernetes.Interface     { return kubeClient{b.kube} }

// kubeClient is the fake clientset with a core REST client that the
// provider's ConfigMap watch can call: the fake's own is a nil pointer
// (client-go fake.FakeCoreV1.RESTClient), which panics when listed. Every
// request through it fails, so the watch finds no ConfigMap and the
// provider creates the cluster ID through the typed fake client instead
// (gce_clusterid.go getOrInitialize).
type kubeClient struct{ *fake.Clientset }

func (c kubeClient) CoreV1() typedcorev1.CoreV1Interface {
	return coreV1{c.Clientset.CoreV1()}
}

type coreV1 struct{ typedcorev1.CoreV1Interface }

func (c coreV1) RESTClient() rest.Interface {
	rc, err := rest.RESTClientFor(&rest.Config{
		Host:      "http://kube-apiserver.invalid",
		APIPath:   "/api",
		Transport: noKubeAPI{},
		ContentConfig: rest.ContentConfig{
			GroupVersion:         &v1.SchemeGroupVersion,
			NegotiatedSerializer: scheme.Codecs.WithoutConversion(),
		},
	})
	if err != nil {
		panic(err)
	}
	return rc
}

type noKubeAPI struct{}

func (noKubeAPI) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no kube-apiserver in this test: the provider's objects live in the fake clientset")
}

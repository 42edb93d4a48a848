package cluster

import (
	"context"
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"
)

// Apply server-side applies objects (for example deploy/'s rendered
// manifests) as the admin, in order.
func (cp *ControlPlane) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cp.AdminREST)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cp.AdminREST)
	if err != nil {
		return err
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "cloud-provider-vpc-e2e", Force: true}); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// ServiceAccountToken gets a token for a ServiceAccount through the
// TokenRequest API, as a pod's projected token would be.
func (cp *ControlPlane) ServiceAccountToken(ctx context.Context, namespace, name string) (string, error) {
	tr, err := cp.Admin.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

// CloudConfig takes gce.conf from rendered manifests (the cloud-config
// ConfigMap of deploy/) and points its api-endpoint at endpoint, so the CCM
// runs with the manifests' own config against this fake-gce.
func CloudConfig(objs []*unstructured.Unstructured, endpoint string) (string, error) {
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || !strings.HasPrefix(o.GetName(), "cloud-config") {
			continue
		}
		conf, ok, _ := unstructured.NestedString(o.Object, "data", "gce.conf")
		if !ok {
			continue
		}
		lines := strings.Split(conf, "\n")
		for i, line := range lines {
			if key, _, _ := strings.Cut(strings.TrimSpace(line), "="); strings.TrimSpace(key) == "api-endpoint" {
				lines[i] = "api-endpoint = " + endpoint
			}
		}
		return strings.Join(lines, "\n"), nil
	}
	return "", fmt.Errorf("the manifests render no cloud-config ConfigMap with gce.conf")
}

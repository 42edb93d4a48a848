package deploy

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Render builds the kustomization in dir (for example "deploy/overlays/fake-gce")
// as `kustomize build dir` does. Generated names (the cloud-config ConfigMap's
// hash suffix) are resolved and the references to them rewritten. The objects
// come in kustomize's legacy order, the CLI's default, which is an order to
// apply them in: the ServiceAccounts, RBAC and ConfigMaps before the DaemonSet.
func Render(dir string) ([]*unstructured.Unstructured, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	k := krusty.MakeKustomizer(opts)
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objects []*unstructured.Unstructured
	for _, r := range resources.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		objects = append(objects, &unstructured.Unstructured{Object: m})
	}
	return objects, nil
}

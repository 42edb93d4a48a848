// Package charts renders the Helm chart of this project (deploy/charts/
// cloud-provider-vpc) as `helm template` does, with the Helm Go SDK, for the
// tests that compare it with deploy/base and apply it to an API server. It
// never talks to a cluster.
package charts

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Namespace is the one namespace the chart installs into.
const Namespace = "kube-system"

// Dir is the chart's directory below the repository root.
const Dir = "deploy/charts/cloud-provider-vpc"

// Manifests renders the chart in dir with the values files merged in order
// (as helm's -f) and then overrides (as --set), for a release named
// release in kube-system. It returns each template's output by file name.
func Manifests(dir, release string, valuesFiles []string, overrides map[string]any) (map[string]string, error) {
	return ManifestsIn(Namespace, dir, release, valuesFiles, overrides)
}

// ManifestsIn is Manifests for a release in namespace, as helm install
// --namespace does: for the chart's refusal of any but kube-system.
func ManifestsIn(namespace, dir, release string, valuesFiles []string, overrides map[string]any) (map[string]string, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	vals := map[string]any{}
	for _, f := range valuesFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read values %s: %w", f, err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("parse values %s: %w", f, err)
		}
		vals = chartutil.MergeTables(v, vals)
	}
	vals = chartutil.MergeTables(overrides, vals)
	top, err := chartutil.ToRenderValues(chrt, vals,
		common.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true, Revision: 1},
		common.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values of chart %s: %w", dir, err)
	}
	out, err := engine.Render(chrt, top)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", dir, err)
	}
	return out, nil
}

// Render renders the chart as Manifests does and parses its objects, in an
// order to apply them in: ServiceAccounts, RBAC and ConfigMaps before the
// workload. NOTES.txt and helpers are left out.
func Render(dir, release string, valuesFiles []string, overrides map[string]any) ([]*unstructured.Unstructured, error) {
	out, err := Manifests(dir, release, valuesFiles, overrides)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, name := range slices.Sorted(maps.Keys(out)) {
		if filepath.Ext(name) != ".yaml" {
			continue
		}
		docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out[name])))
		for {
			doc, err := docs.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			j, err := yaml.YAMLToJSON(doc)
			if err != nil {
				return nil, fmt.Errorf("parse %s: %w", name, err)
			}
			if s := strings.TrimSpace(string(j)); s == "null" || s == "{}" {
				continue // a document of comments only
			}
			// UnmarshalJSON, as a client's decoder does: integers stay
			// int64, not float64.
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON(j); err != nil {
				return nil, fmt.Errorf("parse %s: %w", name, err)
			}
			objs = append(objs, obj)
		}
	}
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		return applyRank(a.GetKind()) - applyRank(b.GetKind())
	})
	return objs, nil
}

// applyRank orders kinds as Helm's install order does, for the kinds the
// chart makes.
func applyRank(kind string) int {
	order := []string{"ServiceAccount", "Secret", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet", "ServiceMonitor"}
	if i := slices.Index(order, kind); i >= 0 {
		return i
	}
	return len(order)
}

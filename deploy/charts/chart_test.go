package charts_test

import (
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy/charts"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the chart")

const chartDir = "cloud-provider-vpc"

func TestTheChartLintsWithoutWarnings(t *testing.T) {
	for _, vf := range valuesFiles(t) {
		t.Run(filepath.Base(vf), func(t *testing.T) {
			var vals map[string]any
			b, err := os.ReadFile(vf)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &vals); err != nil {
				t.Fatal(err)
			}
			l := lint.RunAll(chartDir, vals, charts.Namespace)
			for _, m := range l.Messages {
				// INFO is helm's advice (an icon), not a fault.
				if m.Severity > support.InfoSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

// Each values file in testdata/values renders to testdata/golden/<name>;
// go test ./deploy/charts/ -update rewrites them after a deliberate change.
func TestTheChartRendersEachValuesFileAsItsGoldenFile(t *testing.T) {
	for _, vf := range valuesFiles(t) {
		name := filepath.Base(vf)
		t.Run(name, func(t *testing.T) {
			out, err := charts.Manifests(chartDir, "cpv", []string{vf}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, f := range slices.Sorted(maps.Keys(out)) {
				if strings.TrimSpace(out[f]) == "" {
					continue
				}
				b.WriteString("---\n# Source: " + f + "\n" + strings.TrimPrefix(out[f], "\n") + "\n")
			}
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./deploy/charts/ -update writes it)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("the chart with %s renders differently from %s (-golden +rendered):\n%s", vf, golden, diff)
			}
		})
	}
}

// A template that misplaces a field renders YAML that helm accepts and the
// API server refuses (or, for a field it prunes, silently drops): every
// object the chart renders, for every values file, must decode into its
// Kubernetes type with no unknown field. The ServiceMonitor, whose type is
// the Prometheus operator's, is checked by its golden file alone.
func TestEveryObjectTheChartRendersIsAValidObjectOfItsKind(t *testing.T) {
	for _, vf := range valuesFiles(t) {
		t.Run(filepath.Base(vf), func(t *testing.T) {
			objs, err := charts.Render(chartDir, "cpv", []string{vf}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				typed, err := scheme.Scheme.New(o.GroupVersionKind())
				if runtime.IsNotRegisteredError(err) && o.GetKind() == "ServiceMonitor" {
					continue
				}
				if err != nil {
					t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
					continue
				}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, typed, true); err != nil {
					t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
				}
			}
		})
	}
}

// The CCM's ServiceAccounts, Lease and the API server's authentication
// ConfigMap are in kube-system: the chart installed elsewhere would run a
// CCM that cannot start, so it refuses. (helm lint does not run the
// templates' fail, so this renders as helm install --namespace default.)
func TestTheChartRefusesANamespaceOtherThanKubeSystem(t *testing.T) {
	_, err := charts.ManifestsIn("default", chartDir, "cpv", nil, map[string]any{"clusterName": "a"})
	want := `namespace "default": install the chart in kube-system (helm install --namespace kube-system)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("render in namespace default: error = %v, want one that says %q", err, want)
	}
}

// With the ServiceMonitor on, Prometheus finds the pods through two label
// selectors: the ServiceMonitor's, of the Service, and the Service's, of
// the DaemonSet's pods, on the port named https.
func TestTheServiceMonitorReachesTheCCMPods(t *testing.T) {
	objs, err := charts.Render(chartDir, "cpv", []string{filepath.Join("testdata", "values", "existing-secret-and-metrics.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		byKind[o.GetKind()] = o
	}
	ds, svc, sm := byKind["DaemonSet"], byKind["Service"], byKind["ServiceMonitor"]
	if ds == nil || svc == nil || sm == nil {
		t.Fatalf("want a DaemonSet, a Service and a ServiceMonitor, got %v", slices.Collect(maps.Keys(byKind)))
	}
	selects := func(selector map[string]any, labels map[string]string) bool {
		for k, v := range selector {
			if labels[k] != v {
				return false
			}
		}
		return len(selector) > 0
	}
	smSelector, _, _ := unstructured.NestedMap(sm.Object, "spec", "selector", "matchLabels")
	if !selects(smSelector, svc.GetLabels()) {
		t.Errorf("the ServiceMonitor selects %v; the Service's labels are %v", smSelector, svc.GetLabels())
	}
	podLabels, _, _ := unstructured.NestedStringMap(ds.Object, "spec", "template", "metadata", "labels")
	svcSelector, _, _ := unstructured.NestedMap(svc.Object, "spec", "selector")
	if !selects(svcSelector, podLabels) {
		t.Errorf("the Service selects %v; the pods' labels are %v", svcSelector, podLabels)
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if len(endpoints) != 1 || len(ports) != 1 || endpoints[0].(map[string]any)["port"] != ports[0].(map[string]any)["name"] {
		t.Errorf("the ServiceMonitor scrapes %v; the Service's ports are %v", endpoints, ports)
	}
}

func TestTheChartRefusesValuesItCannotRun(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]any
		wantError string
	}{
		{"an install without a cluster name fails naming clusterName", map[string]any{}, "clusterName is required: a name no other cluster in the project or network uses (--set clusterName=NAME"},
		{"an unknown load balancer mode fails naming loadBalancerMode",
			map[string]any{"clusterName": "a", "loadBalancerMode": "internal"},
			"at '/loadBalancerMode': value must be one of 'external', 'nodeip'"},
		{"a misspelt value fails instead of being ignored",
			map[string]any{"clusterName": "a", "loadbalancerMode": "nodeip"},
			"additional properties 'loadbalancerMode' not allowed"},
		{"a cluster name that is not a string fails naming clusterName",
			map[string]any{"clusterName": 42}, "at '/clusterName': got number, want string"},
		{"an extra argument that is no flag fails naming extraArgs",
			map[string]any{"clusterName": "a", "extraArgs": []any{"v=4"}}, "at '/extraArgs/0'"},
		{"a ConfigMap and a Secret for the cloud config at once fail",
			map[string]any{"clusterName": "a", "cloudConfig": map[string]any{"existingConfigMap": "x", "existingSecret": "y"}},
			"cloudConfig.existingConfigMap and cloudConfig.existingSecret are both set"},
		{"a ServiceMonitor of a port on loopback fails naming metrics.bindAddress",
			map[string]any{"clusterName": "a", "metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}},
			"metrics.serviceMonitor.enabled needs metrics.bindAddress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := charts.Manifests(chartDir, "cpv", nil, tt.overrides)
			if err == nil || !strings.Contains(err.Error(), tt.wantError) {
				t.Errorf("render error = %v, want one that says %q", err, tt.wantError)
			}
		})
	}
}

// The chart and deploy/base are two ways to install one thing: the same
// grants and the same workload shape, so a change to one without the other
// fails here.
func TestTheChartInstallsWhatDeployBaseInstalls(t *testing.T) {
	base, err := deploy.Render(filepath.Join("..", "base"))
	if err != nil {
		t.Fatal(err)
	}
	chart, err := charts.Render(chartDir, "cpv", []string{filepath.Join("testdata", "values", "default.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the same ServiceAccounts and RBAC objects, rules, role references and subjects", func(t *testing.T) {
		if diff := cmp.Diff(grants(base), grants(chart)); diff != "" {
			t.Errorf("RBAC (-deploy/base +chart):\n%s", diff)
		}
	})
	t.Run("the same workload kind, placement, host network and flags", func(t *testing.T) {
		// Through JSON: kustomize's integers are int, the chart's int64.
		if diff := cmp.Diff(viaJSON(t, workloadShape(t, base)), viaJSON(t, workloadShape(t, chart))); diff != "" {
			t.Errorf("workload (-deploy/base +chart):\n%s", diff)
		}
	})
}

// The chart's appVersion (its default image tag) is the release deploy/base
// runs: make set-image-tag writes that tag from the release VERSION.
func TestTheChartsAppVersionIsDeployBasesImageTag(t *testing.T) {
	var chartYAML struct {
		AppVersion string `json:"appVersion"`
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &chartYAML); err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct {
			Name   string `json:"name"`
			NewTag string `json:"newTag"`
		} `json:"images"`
	}
	b, err = os.ReadFile(filepath.Join("..", "base", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Images) != 1 || k.Images[0].NewTag != chartYAML.AppVersion {
		t.Errorf("Chart.yaml appVersion %q, deploy/base/kustomization.yaml images %+v: want the one release tag in both", chartYAML.AppVersion, k.Images)
	}
}

// grants is every ServiceAccount and RBAC object by kind/namespace/name,
// with what decides an authorization: rules, roleRef, subjects and
// automountServiceAccountToken; labels and comments aside.
func grants(objs []*unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
		default:
			continue
		}
		m := map[string]any{}
		for _, f := range []string{"rules", "roleRef", "subjects", "automountServiceAccountToken"} {
			if v, ok := o.Object[f]; ok {
				m[f] = v
			}
		}
		out[o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName()] = m
	}
	return out
}

// workloadShape is what decides where and how the CCM runs. The flags are
// compared but for --cluster-name, which deploy/base takes from a ConfigMap
// and the chart from its values.
func workloadShape(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	var w *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "DaemonSet" || o.GetKind() == "Deployment" {
			if w != nil {
				t.Fatalf("two workloads: %s and %s", w.GetName(), o.GetName())
			}
			w = o
		}
	}
	if w == nil {
		t.Fatal("no workload")
	}
	field := func(path ...string) any {
		v, _, _ := unstructured.NestedFieldNoCopy(w.Object, path...)
		return v
	}
	pod := []string{"spec", "template", "spec"}
	c := field(append(pod, "containers")...).([]any)[0].(map[string]any)
	var args []any
	for _, a := range c["args"].([]any) {
		if !strings.HasPrefix(a.(string), "--cluster-name=") {
			args = append(args, a)
		}
	}
	return map[string]any{
		"kind":                      w.GetKind(),
		"namespace/name":            w.GetNamespace() + "/" + w.GetName(),
		"selector":                  field("spec", "selector"),
		"updateStrategy":            field("spec", "updateStrategy"),
		"serviceAccountName":        field(append(pod, "serviceAccountName")...),
		"priorityClassName":         field(append(pod, "priorityClassName")...),
		"hostNetwork":               field(append(pod, "hostNetwork")...),
		"dnsPolicy":                 field(append(pod, "dnsPolicy")...),
		"securityContext":           field(append(pod, "securityContext")...),
		"nodeSelector":              field(append(pod, "nodeSelector")...),
		"affinity":                  field(append(pod, "affinity")...),
		"tolerations":               field(append(pod, "tolerations")...),
		"args":                      args,
		"ports":                     c["ports"],
		"livenessProbe":             c["livenessProbe"],
		"readinessProbe":            c["readinessProbe"],
		"resources":                 c["resources"],
		"container securityContext": c["securityContext"],
		"volumeMounts":              c["volumeMounts"],
	}
}

// viaJSON is v as a JSON decoder gives it back: every number a float64.
func viaJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func valuesFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "values", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files in testdata/values: %v", err)
	}
	return files
}

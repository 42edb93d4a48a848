package deploy_test

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/cmd/vpc-cloud-controller-manager/ccm"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
)

// The kustomizations a user can apply; every test runs on each of them.
var kustomizations = []string{"base", "overlays/nodeip", "overlays/fake-gce"}

const rbacDoc = "../docs/rbac.md"

var serviceAccount = rbacv1.Subject{Kind: "ServiceAccount", Name: "cloud-controller-manager", Namespace: "kube-system"}

func TestEachKustomizationRunsTheCCMWithItsCloudConfig(t *testing.T) {
	tests := []struct {
		name       string
		dir        string
		wantConfig cloudConfig
	}{
		{
			name:       "the base runs in external mode, asking the metadata server for what gce.conf leaves out",
			dir:        "base",
			wantConfig: cloudConfig{Mode: cloudconfig.ModeExternal},
		},
		{
			name:       "the nodeip overlay makes nodeip the default load-balancer mode",
			dir:        "overlays/nodeip",
			wantConfig: cloudConfig{Mode: cloudconfig.ModeNodeIP, NodeIPAddressType: "InternalIP"},
		},
		{
			name: "the fake-gce overlay runs against fake-gce on the node's loopback, without credentials",
			dir:  "overlays/fake-gce",
			wantConfig: cloudConfig{
				Mode: cloudconfig.ModeExternal, ProjectID: "fake-project", LocalZone: "us-central1-a", NetworkName: "default",
				APIEndpoint: "http://127.0.0.1:8085/compute/v1/", NoAuthentication: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, tt.dir)
			d := theDaemonSet(t, objs)
			cfg, err := cloudconfig.Parse(strings.NewReader(renderedCloudConfig(t, objs, d)))
			if err != nil {
				t.Fatalf("cloudconfig.Parse of the rendered gce.conf: %v", err)
			}
			if diff := cmp.Diff(tt.wantConfig, projectConfig(cfg)); diff != "" {
				t.Errorf("parsed gce.conf (-want +got):\n%s", diff)
			}
		})
	}
}

// The CCM runs as upstream's GCE CCM does (kubernetes/cloud-provider-gcp,
// deploy/packages/default/manifest.yaml): a DaemonSet on the control-plane
// nodes, one active pod by leader election. One control-plane node runs
// one pod, three run three, and no budget holds a drain of a node back: a
// Deployment of two replicas with minAvailable 1 left one Pending (each
// holds :10258 on the host network) and refused every eviction on a
// single control-plane cluster.
func TestTheCCMIsADaemonSetOnTheControlPlaneThatNoBudgetHoldsBack(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			for _, kind := range []string{"Deployment", "StatefulSet", "PodDisruptionBudget"} {
				for _, o := range objs {
					if o.GetKind() == kind {
						t.Errorf("%s renders a %s %s", dir, kind, o.GetName())
					}
				}
			}
			d := theDaemonSet(t, objs)
			// One node at a time, and never a second pod beside the first:
			// it could not bind :10258 next to it.
			want := appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: ptrTo(intstr.FromInt32(1)), MaxSurge: ptrTo(intstr.FromInt32(0)),
			}}
			if diff := cmp.Diff(want, d.Spec.UpdateStrategy); diff != "" {
				t.Errorf("update strategy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTheCCMRunsOnlyWhereAnOverlayNamedTheCluster(t *testing.T) {
	tests := []struct {
		name     string
		dir      string
		wantName string
		wantErr  string // the start of the line the CCM stops with; empty: it starts
	}{
		{name: "the base names no cluster, so the CCM stops naming --cluster-name", dir: "base", wantErr: "--cluster-name is empty: "},
		{name: "the nodeip overlay names no cluster either", dir: "overlays/nodeip", wantErr: "--cluster-name is empty: "},
		{name: "the fake-gce overlay names its CI cluster", dir: "overlays/fake-gce", wantName: "ci"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, tt.dir)
			d := theDaemonSet(t, objs)
			cfg, err := cloudconfig.Parse(strings.NewReader(renderedCloudConfig(t, objs, d)))
			if err != nil {
				t.Fatalf("cloudconfig.Parse of the rendered gce.conf: %v", err)
			}
			name := renderedClusterName(t, objs, theContainer(d))
			if name != tt.wantName {
				t.Errorf("--cluster-name = %q, want %q", name, tt.wantName)
			}
			err = cloudconfig.CheckClusterName(name, cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("the CCM would stop: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("the CCM's check of --cluster-name = %v, want an error starting %q", err, tt.wantErr)
			}
		})
	}
}

// renderedClusterName is the --cluster-name the kubelet gives the container:
// the flag's value with $(VAR) references to the container's environment
// expanded, each variable read from the ConfigMap key it names. A key that
// must be there (not optional) stops the pod when it is missing, rather
// than passing the reference on as it is.
func renderedClusterName(t *testing.T, objs []*unstructured.Unstructured, c *corev1.Container) string {
	t.Helper()
	v, ok := flagValue(c.Args, "--cluster-name")
	if !ok {
		t.Fatalf("the container has no --cluster-name flag: %q", c.Args)
	}
	for _, e := range c.Env {
		ref := "$(" + e.Name + ")"
		if !strings.Contains(v, ref) {
			continue
		}
		value := e.Value
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			key := e.ValueFrom.ConfigMapKeyRef
			if key.Optional != nil && *key.Optional {
				t.Errorf("env %s: the ConfigMap key %s is optional; without it the CCM would run with %q", e.Name, key.Key, ref)
			}
			if !strings.HasPrefix(key.Name, "cluster-name-") {
				t.Errorf("env %s: ConfigMap %q, want cluster-name-<content hash> so a change rolls the pods", e.Name, key.Name)
			}
			cm := decodeOne[corev1.ConfigMap](t, objs, "ConfigMap", key.Name)
			if value, ok = cm.Data[key.Key]; !ok {
				t.Fatalf("ConfigMap %s has no key %s (keys: %v)", cm.Name, key.Key, keys(cm.Data))
			}
		}
		v = strings.ReplaceAll(v, ref, value)
	}
	if strings.Contains(v, "$(") {
		t.Fatalf("--cluster-name %q refers to a variable the container does not define", v)
	}
	return v
}

// cloudConfig is the part of cloudconfig.Config the kustomizations set.
type cloudConfig struct {
	Mode              string
	NodeIPAddressType string // only in nodeip mode
	ProjectID         string
	LocalZone         string
	NetworkName       string
	APIEndpoint       string
	TokenURL          string
	NoAuthentication  bool
}

func projectConfig(c *cloudconfig.Config) cloudConfig {
	out := cloudConfig{
		Mode: c.LoadBalancer.Mode, ProjectID: c.ProjectID, LocalZone: c.LocalZone,
		NetworkName: c.NetworkName, APIEndpoint: c.APIEndpoint, TokenURL: c.TokenURL,
		NoAuthentication: c.NoAuthentication,
	}
	if c.LoadBalancer.Mode == cloudconfig.ModeNodeIP {
		out.NodeIPAddressType = c.LoadBalancer.NodeIPAddressType
	}
	return out
}

// renderedCloudConfig follows --cloud-config to the ConfigMap the DaemonSet
// mounts there and returns the file.
func renderedCloudConfig(t *testing.T, objs []*unstructured.Unstructured, d *appsv1.DaemonSet) string {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	file, ok := flagValue(c.Args, "--cloud-config")
	if !ok {
		t.Fatalf("the container has no --cloud-config flag: %q", c.Args)
	}
	var volume string
	for _, m := range c.VolumeMounts {
		if path.Dir(file) == m.MountPath {
			volume = m.Name
		}
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name != volume || v.ConfigMap == nil {
			continue
		}
		if !strings.HasPrefix(v.ConfigMap.Name, "cloud-config-") {
			t.Errorf("the cloud config ConfigMap is %q, want cloud-config-<content hash> so a change rolls the pods", v.ConfigMap.Name)
		}
		cm := decodeOne[corev1.ConfigMap](t, objs, "ConfigMap", v.ConfigMap.Name)
		data, ok := cm.Data[path.Base(file)]
		if !ok {
			t.Fatalf("ConfigMap %s has no key %s (keys: %v)", cm.Name, path.Base(file), keys(cm.Data))
		}
		return data
	}
	t.Fatalf("no ConfigMap volume is mounted at %s", path.Dir(file))
	return ""
}

func TestTheCCMPodIsHardenedAndSchedulesBeforeNodesAreReady(t *testing.T) {
	checks := []struct {
		name string
		diff func(d *appsv1.DaemonSet) string
	}{
		{
			name: "the pod runs as non-root user 65532 with the runtime's default seccomp profile",
			diff: func(d *appsv1.DaemonSet) string {
				want := &corev1.PodSecurityContext{
					RunAsNonRoot:   ptrTo(true),
					RunAsUser:      ptrTo(int64(65532)),
					RunAsGroup:     ptrTo(int64(65532)),
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				}
				return cmp.Diff(want, d.Spec.Template.Spec.SecurityContext)
			},
		},
		{
			name: "the container has a read-only root, no privilege escalation and no capabilities",
			diff: func(d *appsv1.DaemonSet) string {
				want := &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptrTo(false),
					ReadOnlyRootFilesystem:   ptrTo(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				}
				return cmp.Diff(want, theContainer(d).SecurityContext)
			},
		},
		{
			name: "liveness and readiness probe /healthz over HTTPS on the secure port 10258 of the node's loopback, where it listens",
			diff: func(d *appsv1.DaemonSet) string {
				healthz := corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Host: "127.0.0.1", Scheme: corev1.URISchemeHTTPS, Port: intstr.FromInt32(10258), Path: "/healthz",
				}}
				c := theContainer(d)
				return cmp.Diff(
					[]*corev1.Probe{
						{ProbeHandler: healthz, InitialDelaySeconds: 15, PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 3},
						{ProbeHandler: healthz, PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 3},
					},
					[]*corev1.Probe{c.LivenessProbe, c.ReadinessProbe})
			},
		},
		{
			name: "the binary runs as the gce provider with leader election on the secure port, ten Services at once, neither routes nor CIDRs, and the cluster's name from its ConfigMap",
			diff: func(d *appsv1.DaemonSet) string {
				want := []string{
					"--cloud-provider=gce",
					"--cloud-config=/etc/kubernetes/cloud-config/gce.conf",
					"--use-service-account-credentials=false",
					"--leader-elect=true",
					"--leader-elect-resource-name=cloud-controller-manager",
					"--secure-port=10258",
					"--bind-address=127.0.0.1",
					"--profiling=false",
					"--configure-cloud-routes=false",
					"--allocate-node-cidrs=false",
					"--concurrent-service-syncs=10",
					"--cluster-name=$(CLUSTER_NAME)",
				}
				return cmp.Diff(want, theContainer(d).Args, cmpopts.SortSlices(stringLess))
			},
		},
		{
			name: "the image is the release tag without a registry host",
			diff: func(d *appsv1.DaemonSet) string {
				return cmp.Diff("cloud-provider-vpc/vpc-cloud-controller-manager:v0.1.0", theContainer(d).Image)
			},
		},
		{
			name: "the container requests 50m CPU and 64Mi memory and is limited in memory only",
			diff: func(d *appsv1.DaemonSet) string {
				want := corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("50m"),
						corev1.ResourceMemory: resource.MustParse("64Mi"),
					},
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				}
				return cmp.Diff(want, theContainer(d).Resources, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }))
			},
		},
		{
			name: "the pod tolerates uninitialized, not-ready and control-plane nodes",
			diff: func(d *appsv1.DaemonSet) string {
				want := []string{
					"node.cloudprovider.kubernetes.io/uninitialized:NoSchedule",
					"node-role.kubernetes.io/control-plane:NoSchedule",
					"node.kubernetes.io/not-ready:NoSchedule",
				}
				var got []string
				for _, tol := range d.Spec.Template.Spec.Tolerations {
					if tol.Operator == corev1.TolerationOpExists && tol.Effect != "" {
						got = append(got, tol.Key+":"+string(tol.Effect))
					}
				}
				return cmp.Diff(want, got, cmpopts.SortSlices(stringLess))
			},
		},
		{
			name: "the pod runs only on control-plane nodes, whatever value their role label has",
			diff: func(d *appsv1.DaemonSet) string {
				spec := d.Spec.Template.Spec
				wantAffinity := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.NodeSelectorOpExists}},
					}}},
				}}
				return cmp.Diff(wantAffinity, spec.Affinity) + cmp.Diff(map[string]string(nil), spec.NodeSelector)
			},
		},
		{
			name: "the pod is cluster-critical, on the host network (before the CNI), as the CCM's service account",
			diff: func(d *appsv1.DaemonSet) string {
				type placement struct {
					PriorityClassName  string
					HostNetwork        bool
					DNSPolicy          corev1.DNSPolicy
					ServiceAccountName string
				}
				spec := d.Spec.Template.Spec
				return cmp.Diff(
					placement{"system-cluster-critical", true, corev1.DNSDefault, serviceAccount.Name},
					placement{spec.PriorityClassName, spec.HostNetwork, spec.DNSPolicy, spec.ServiceAccountName})
			},
		},
	}
	for _, dir := range kustomizations {
		d := theDaemonSet(t, render(t, dir))
		for _, c := range checks {
			t.Run(dir+": "+c.name, func(t *testing.T) {
				if diff := c.diff(d); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// A grant is one verb on one resource (and name) given by one role.
type grant struct {
	Role     string // "ClusterRole NAME" or "Role NAMESPACE/NAME"
	APIGroup string
	Resource string
	Name     string // a resourceNames entry; empty for every name
	Verb     string
}

func TestTheRolesGrantExactlyTheTableInDocsRBAC(t *testing.T) {
	doc := readRBACDoc(t)
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			got, definedRoles := renderedGrants(t, objs)

			var want []grant
			for _, row := range doc.rows {
				if !doc.builtIn[row.Role] {
					want = append(want, row)
				}
			}
			if diff := cmp.Diff(want, got, cmpopts.SortSlices(grantLess)); diff != "" {
				t.Errorf("grants of the rendered roles (-docs/rbac.md +%s):\n%s", dir, diff)
			}
			for role := range doc.builtIn {
				if definedRoles[role] {
					t.Errorf("%s is marked (built in) in docs/rbac.md but %s defines it", role, dir)
				}
			}
		})
	}
}

func TestTheBindingsAreTheTableInDocsRBAC(t *testing.T) {
	doc := readRBACDoc(t)
	want := readBindingsDoc(t)
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			got := renderedBindings(t, objs)
			if diff := cmp.Diff(want, got, cmpopts.SortSlices(bindingLess)); diff != "" {
				t.Errorf("bindings (-docs/rbac.md +%s):\n%s", dir, diff)
			}
			bound := map[string]bool{}
			for _, b := range got {
				bound[b.Role] = true
				if !doc.roles[b.Role] {
					t.Errorf("%s binds %s, which the grants table of docs/rbac.md does not list", b.Binding, b.Role)
				}
			}
			for role := range doc.roles {
				if !bound[role] {
					t.Errorf("docs/rbac.md lists %s, but no binding in %s gives it to anyone", role, dir)
				}
			}
		})
	}
}

// controllerIdentities are the names the CCM's controllers ask its client
// builder for (ControllerInitContext.ClientName). The provider asks for
// none: it writes nothing to the Kubernetes API.
// With --use-service-account-credentials=true each is a ServiceAccount in
// kube-system that the CCM gets and requests tokens for
// (k8s.io/controller-manager pkg/clientbuilder, DynamicControllerClientBuilder).
func controllerIdentities() []string {
	var ids []string
	for _, c := range ccm.ControllerInitFuncConstructors() {
		ids = append(ids, c.InitContext.ClientName)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func TestEveryControllerIdentityHasItsServiceAccountWhoseTokenTheCCMMayRequest(t *testing.T) {
	ids := controllerIdentities()
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			bindings := renderedBindings(t, objs)
			grants := grantsOf(t, objs, bindings)
			for _, id := range ids {
				sa := decodeOne[corev1.ServiceAccount](t, objs, "ServiceAccount", id)
				if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
					t.Errorf("ServiceAccount %s: no pod runs as it; automountServiceAccountToken should be false", id)
				}
				if len(grants[subjectName(id)]) == 0 {
					t.Errorf("no binding grants anything to %s, which the CCM's code uses as a controller identity", subjectName(id))
				}
			}
			// The CCM gets each ServiceAccount (it would create a missing
			// one, and may not: the manifests ship them) and requests its
			// tokens, for exactly these names.
			own := grants[subjectName(serviceAccount.Name)]
			for _, want := range []struct{ resource, verb string }{{"serviceaccounts", "get"}, {"serviceaccounts/token", "create"}} {
				var names []string
				for _, g := range own {
					if g.APIGroup == "" && g.Resource == want.resource && g.Verb == want.verb {
						names = append(names, g.Name)
					}
				}
				if diff := cmp.Diff(ids, names, cmpopts.SortSlices(stringLess)); diff != "" {
					t.Errorf("the CCM may %s %s of (-controller identities +granted):\n%s", want.verb, want.resource, diff)
				}
			}
		})
	}
}

// With --use-service-account-credentials=false (the default) the CCM's own
// account does everything, so each controller identity's grants must be
// ones it holds already: its right to request their tokens then gives it
// nothing more.
func TestAControllerIdentityMayDoNothingTheCCMsOwnAccountMayNot(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			grants := grantsOf(t, objs, renderedBindings(t, objs))
			own := grants[subjectName(serviceAccount.Name)]
			holds := func(g grant) bool {
				return slices.ContainsFunc(own, func(o grant) bool {
					return o.APIGroup == g.APIGroup && o.Resource == g.Resource && o.Verb == g.Verb && (o.Name == "" || o.Name == g.Name)
				})
			}
			for _, id := range controllerIdentities() {
				for _, g := range grants[subjectName(id)] {
					if !holds(g) {
						t.Errorf("%s may %s %s %q (%s), which %s may not", id, g.Verb, g.Resource, g.Name, g.Role, serviceAccount.Name)
					}
				}
			}
		})
	}
}

func subjectName(sa string) string { return "kube-system/" + sa }

// A binding gives a role to ServiceAccounts ("NAMESPACE/NAME").
type binding struct {
	Binding  string // "ClusterRoleBinding NAME" or "RoleBinding NAMESPACE/NAME"
	Role     string // as the grants table names it
	Subjects []string
}

func bindingLess(a, b binding) bool { return a.Binding < b.Binding }

func renderedBindings(t *testing.T, objs []*unstructured.Unstructured) []binding {
	t.Helper()
	var out []binding
	subjects := func(kind, name string, ss []rbacv1.Subject) []string {
		var names []string
		for _, s := range ss {
			if s.Kind != "ServiceAccount" {
				t.Errorf("%s %s binds a %s; the CCM's identities are ServiceAccounts", kind, name, s.Kind)
			}
			names = append(names, s.Namespace+"/"+s.Name)
		}
		slices.Sort(names)
		return names
	}
	for _, b := range decodeAll[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding") {
		out = append(out, binding{"ClusterRoleBinding " + b.Name, b.RoleRef.Kind + " " + b.RoleRef.Name, subjects("ClusterRoleBinding", b.Name, b.Subjects)})
	}
	for _, b := range decodeAll[rbacv1.RoleBinding](t, objs, "RoleBinding") {
		if b.RoleRef.Kind != "Role" {
			t.Errorf("RoleBinding %s/%s refers to a %s; this deployment binds only Roles in namespaces", b.Namespace, b.Name, b.RoleRef.Kind)
		}
		out = append(out, binding{"RoleBinding " + b.Namespace + "/" + b.Name, "Role " + b.Namespace + "/" + b.RoleRef.Name, subjects("RoleBinding", b.Namespace+"/"+b.Name, b.Subjects)})
	}
	return out
}

// grantsOf maps each subject to what its bindings grant it: the rendered
// roles' rules, and for a built-in role the rows of docs/rbac.md.
func grantsOf(t *testing.T, objs []*unstructured.Unstructured, bindings []binding) map[string][]grant {
	t.Helper()
	rendered, _ := renderedGrants(t, objs)
	doc := readRBACDoc(t)
	byRole := map[string][]grant{}
	for _, g := range rendered {
		byRole[g.Role] = append(byRole[g.Role], g)
	}
	for _, g := range doc.rows {
		if doc.builtIn[g.Role] {
			byRole[g.Role] = append(byRole[g.Role], g)
		}
	}
	out := map[string][]grant{}
	for _, b := range bindings {
		for _, s := range b.Subjects {
			out[s] = append(out[s], byRole[b.Role]...)
		}
	}
	return out
}

// readBindingsDoc parses the table whose header starts with "| binding |":
// binding | role | subjects | scope.
func readBindingsDoc(t *testing.T) []binding {
	t.Helper()
	var out []binding
	for _, row := range readDocTable(t, "| binding |", 4) {
		out = append(out, binding{Binding: unquote(row.cells[0]), Role: strings.TrimSuffix(unquote(row.cells[1]), " (built in)"), Subjects: list(row.cells[2])})
		slices.Sort(out[len(out)-1].Subjects)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no bindings table", rbacDoc)
	}
	return out
}

type docRow struct {
	line  int
	cells []string
}

// readDocTable returns the rows of the table in docs/rbac.md whose header
// starts with header, each of n cells.
func readDocTable(t *testing.T, header string, n int) []docRow {
	t.Helper()
	f, err := os.Open(rbacDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []docRow
	in := false
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(text, header):
			in = true
			continue
		case !in:
			continue
		case !strings.HasPrefix(text, "|"):
			in = false
			continue
		case strings.HasPrefix(text, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(text, "|"), "|")
		if len(cells) != n {
			t.Fatalf("%s:%d: %d cells, want %d: %s", rbacDoc, line, len(cells), n, text)
		}
		rows = append(rows, docRow{line, cells})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestNoRuleUsesAWildcard(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			var rules []rbacv1.PolicyRule
			for _, r := range decodeAll[rbacv1.ClusterRole](t, objs, "ClusterRole") {
				if r.AggregationRule != nil {
					t.Errorf("ClusterRole %s aggregates other roles; its grants would not be the table's", r.Name)
				}
				rules = append(rules, r.Rules...)
			}
			for _, r := range decodeAll[rbacv1.Role](t, objs, "Role") {
				rules = append(rules, r.Rules...)
			}
			for _, r := range rules {
				for _, v := range slices.Concat(r.APIGroups, r.Resources, r.ResourceNames, r.Verbs, r.NonResourceURLs) {
					if strings.Contains(v, "*") {
						t.Errorf("rule %+v uses %q", r, v)
					}
				}
				if len(r.NonResourceURLs) > 0 {
					t.Errorf("rule %+v grants non-resource URLs; the CCM needs none", r)
				}
			}
		})
	}
}

func TestTheLeaderElectionRoleNamesTheCCMsLease(t *testing.T) {
	doc := readRBACDoc(t)
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			args := theContainer(theDaemonSet(t, render(t, dir))).Args
			lease, _ := flagValue(args, "--leader-elect-resource-name")
			namespace, ok := flagValue(args, "--leader-elect-resource-namespace")
			if !ok {
				namespace = "kube-system" // k8s.io/cloud-provider/options default
			}
			var got []string
			for _, g := range doc.rows {
				if g.APIGroup == "coordination.k8s.io" && g.Resource == "leases" && g.Verb == "update" {
					got = append(got, g.Role+" "+g.Name)
				}
			}
			want := []string{"Role " + namespace + "/cloud-provider-vpc:leader-election " + lease}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("who may renew the Lease (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDocsRBACMarksTheNodeIPControllersRows(t *testing.T) {
	doc := readRBACDoc(t)
	if len(doc.neededBy) == 0 {
		t.Fatal("docs/rbac.md has no grants table")
	}
	for key, who := range doc.neededBy {
		if strings.Contains(who, "nodeip") && !strings.Contains(who, "nodeip (nodeip mode)") {
			t.Errorf("row %s: %q names nodeip without marking it \"(nodeip mode)\"", key, who)
		}
	}
	if who := doc.neededBy["discovery.k8s.io/endpointslices"]; who != "nodeip (nodeip mode)" {
		t.Errorf("endpointslices are needed by %q, want only \"nodeip (nodeip mode)\"", who)
	}
}

// rbacTable is the grants table of docs/rbac.md.
type rbacTable struct {
	rows     []grant
	roles    map[string]bool   // every role the table names
	builtIn  map[string]bool   // roles marked "(built in)": the API server ships them
	neededBy map[string]string // "group/resource" -> the "needed by" cell(s)
}

// readRBACDoc parses the table whose header starts with "| API group |":
// API group | resource | resource names | verbs | granted by | needed by | why.
func readRBACDoc(t *testing.T) rbacTable {
	t.Helper()
	doc := rbacTable{roles: map[string]bool{}, builtIn: map[string]bool{}, neededBy: map[string]string{}}
	for _, row := range readDocTable(t, "| API group |", 7) {
		cells, line := row.cells, row.line
		group, res, names, verbs, role, who := unquote(cells[0]), unquote(cells[1]), list(cells[2]), list(cells[3]), unquote(cells[4]), strings.TrimSpace(cells[5])
		if group == `""` {
			group = ""
		}
		if r, ok := strings.CutSuffix(role, " (built in)"); ok {
			role = r
			doc.builtIn[role] = true
		}
		if !strings.HasPrefix(role, "ClusterRole ") && !strings.HasPrefix(role, "Role ") {
			t.Fatalf("%s:%d: granted by %q, want \"ClusterRole NAME\" or \"Role NAMESPACE/NAME\"", rbacDoc, line, role)
		}
		if len(verbs) == 0 {
			t.Fatalf("%s:%d: no verbs", rbacDoc, line)
		}
		doc.roles[role] = true
		key := group + "/" + res
		doc.neededBy[key] = strings.TrimPrefix(doc.neededBy[key]+", "+who, ", ")
		if len(names) == 0 {
			names = []string{""}
		}
		for _, n := range names {
			for _, v := range verbs {
				doc.rows = append(doc.rows, grant{Role: role, APIGroup: group, Resource: res, Name: n, Verb: v})
			}
		}
	}
	return doc
}

func unquote(cell string) string { return strings.ReplaceAll(strings.TrimSpace(cell), "`", "") }

func list(cell string) []string {
	var out []string
	for _, s := range strings.Split(unquote(cell), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// renderedGrants flattens every ClusterRole and Role rule into grants.
func renderedGrants(t *testing.T, objs []*unstructured.Unstructured) (grants []grant, roles map[string]bool) {
	t.Helper()
	roles = map[string]bool{}
	add := func(role string, rules []rbacv1.PolicyRule) {
		roles[role] = true
		for _, r := range rules {
			names := r.ResourceNames
			if len(names) == 0 {
				names = []string{""}
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, n := range names {
						for _, v := range r.Verbs {
							grants = append(grants, grant{Role: role, APIGroup: g, Resource: res, Name: n, Verb: v})
						}
					}
				}
			}
		}
	}
	for _, r := range decodeAll[rbacv1.ClusterRole](t, objs, "ClusterRole") {
		add("ClusterRole "+r.Name, r.Rules)
	}
	for _, r := range decodeAll[rbacv1.Role](t, objs, "Role") {
		add("Role "+r.Namespace+"/"+r.Name, r.Rules)
	}
	return grants, roles
}

func grantLess(a, b grant) bool {
	return fmt.Sprint(a) < fmt.Sprint(b)
}

func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := deploy.Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && ns != "kube-system" {
			t.Errorf("%s %s is in namespace %q, want kube-system", o.GetKind(), o.GetName(), ns)
		}
	}
	return objs
}

func theDaemonSet(t *testing.T, objs []*unstructured.Unstructured) *appsv1.DaemonSet {
	t.Helper()
	d := decodeOne[appsv1.DaemonSet](t, objs, "DaemonSet", "cloud-controller-manager")
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("DaemonSet has %d containers, want 1", n)
	}
	return d
}

func theContainer(d *appsv1.DaemonSet) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }

func decodeAll[T any](t *testing.T, objs []*unstructured.Unstructured, kind string) []*T {
	t.Helper()
	var out []*T
	for _, o := range objs {
		if o.GetKind() != kind {
			continue
		}
		v := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, v, true); err != nil {
			t.Fatalf("decode %s %s: %v", kind, o.GetName(), err)
		}
		out = append(out, v)
	}
	return out
}

func decodeOne[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return decodeAll[T](t, []*unstructured.Unstructured{o}, kind)[0]
		}
	}
	t.Fatalf("no %s %s among the rendered objects", kind, name)
	return nil
}

// flagValue returns the value of --name=value in args.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func ptrTo[T any](v T) *T { return &v }

func stringLess(a, b string) bool { return a < b }

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

// installed is what `kubectl apply -k` of deploy/base puts in the cluster,
// as typed objects; with a cloud config, an overlay that replaces gce.conf
// and names the cluster as deploy/base/kustomization.yaml tells a user to.
func installed(t *testing.T, gceConf, name string) []runtime.Object {
	t.Helper()
	base, err := filepath.Abs("../../deploy/base")
	if err != nil {
		t.Fatal(err)
	}
	dir := base
	if gceConf != "" {
		dir = t.TempDir()
		// kustomize takes a base by a relative path only.
		rel, err := filepath.Rel(dir, base)
		if err != nil {
			t.Fatal(err)
		}
		kustomization := "resources:\n  - " + rel + "\n" +
			"configMapGenerator:\n" +
			"  - name: cloud-config\n    namespace: kube-system\n    behavior: replace\n    files:\n      - gce.conf\n" +
			"  - name: cluster-name\n    namespace: kube-system\n    behavior: merge\n    literals:\n      - cluster-name=" + name + "\n"
		for file, text := range map[string]string{"kustomization.yaml": kustomization, "gce.conf": gceConf} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	rendered, err := deploy.Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, u := range rendered {
		obj, err := scheme.Scheme.New(u.GroupVersionKind())
		if err != nil {
			t.Fatal(err)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		objs = append(objs, obj)
	}
	return objs
}

// generatedName is the name kustomize gave the ConfigMap generated as name
// (with the hash of its data).
func generatedName(t *testing.T, objs []runtime.Object, name string) string {
	t.Helper()
	for _, o := range objs {
		if cm, ok := o.(*v1.ConfigMap); ok && strings.HasPrefix(cm.Name, name+"-") {
			return cm.Name
		}
	}
	t.Fatalf("no ConfigMap %s-*", name)
	return ""
}

func TestRunWithNoFlagsReadsTheCloudConfigAndClusterNameOfTheCCM(t *testing.T) {
	c := newCluster(t)
	svc, slice := web()
	status, err := c.provider.EnsureLoadBalancer(context.Background(), clusterName, svc, c.nodes)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(c.cloudConfig)
	if err != nil {
		t.Fatal(err)
	}
	kube := c.clientset(svc, slice)
	for _, o := range installed(t, string(conf), clusterName) {
		if err := kube.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}

	// The Service's status is not written yet: only the cluster's name
	// leads to its forwarding rule.
	unwritten := run(t, Options{}, kube)

	base := ownership.ForCluster(clusterName).LoadBalancerBase(webUID)
	want := "the client connects to " + status.Ingress[0].IP + ", the address of forwarding rule " + base + "-tcp"
	if len(unwritten.Hops) == 0 || unwritten.Hops[0].Description != want {
		t.Errorf("hops %v, want first %q", hops(unwritten), want)
	}

	svc.Status.LoadBalancer = *status
	if _, err := kube.CoreV1().Services("default").UpdateStatus(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := run(t, Options{}, kube)
	if got.Outcome != trace.Delivered || len(got.Hops) < 2 || !strings.HasPrefix(got.Hops[1].Description, base+"-tcp (TCP 80) sends it to backend service "+base) {
		t.Errorf("outcome %s, hops %v; want delivered through forwarding rule %s-tcp", got.Outcome, hops(got), base)
	}
}

// forbidDaemonSets makes the API refuse to read DaemonSets, as it does to
// a user without the grant.
func forbidDaemonSets(kube *fake.Clientset) {
	kube.PrependReactor("get", "daemonsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "daemonsets"}, ccmDaemonSet, errors.New("no grant"))
	})
}

func TestTheCCMsSettingsComeFromItsDaemonSetAndFlagsOverrideThem(t *testing.T) {
	const conf = "[global]\nproject-id = ccm-project\nlocal-zone = us-central1-a\nnetwork-name = default\nnode-tags = k8s-node\n[compute-api]\nno-authentication = true\n"
	asInstalled := installed(t, "", "")
	overlaid := installed(t, conf, "prod")
	inSecret := installed(t, conf, "prod")
	for _, o := range inSecret {
		if ds, ok := o.(*appsv1.DaemonSet); ok {
			for i, v := range ds.Spec.Template.Spec.Volumes {
				if v.Name == "cloud-config" {
					ds.Spec.Template.Spec.Volumes[i].VolumeSource = v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "gce-conf"}}
				}
			}
		}
	}
	configOf := func(objs []runtime.Object) string {
		return "ConfigMap kube-system/" + generatedName(t, objs, "cloud-config") + ", key gce.conf, the --cloud-config of DaemonSet kube-system/cloud-controller-manager"
	}
	file := filepath.Join(t.TempDir(), "gce.conf")
	if err := os.WriteFile(file, []byte("[global]\nproject-id = file-project\nlocal-zone = europe-west1-b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type settings struct{ Project, Region, ClusterName, From string }
	tests := []struct {
		name    string
		objs    []runtime.Object
		forbid  bool
		o       Options
		want    settings
		wantErr string
	}{
		{name: "an overlay of deploy/base gives the project, the region and the cluster name",
			objs: overlaid, want: settings{"ccm-project", "us-central1", "prod", configOf(overlaid)}},
		{name: "flags override the CCM's",
			objs: overlaid, o: Options{Project: "other-project", Region: "europe-west1", ClusterName: "other"},
			want: settings{"other-project", "europe-west1", "other", configOf(overlaid)}},
		{name: "--cloud-config overrides the CCM's, and the cluster name still comes from the CCM",
			objs: overlaid, o: Options{CloudConfig: file},
			want: settings{"file-project", "europe-west1", "prod", "--cloud-config " + file}},
		{name: "deploy/base as it is leaves the project to the metadata server, which a user's machine lacks",
			objs: asInstalled, o: Options{ClusterName: "prod"},
			wantErr: "no project: set --project, or [global] project-id in the cloud config (" + configOf(asInstalled) + ")"},
		{name: "deploy/base as it is names no cluster",
			objs: asInstalled, o: Options{Project: "p", Region: "us-central1"},
			wantErr: "no cluster name: set --cluster-name to the CCM's, which names the cluster's cloud resources (--cluster-name of DaemonSet kube-system/cloud-controller-manager (ConfigMap kube-system/" +
				generatedName(t, asInstalled, "cluster-name") + ", key cluster-name) is empty)"},
		{name: "a cloud config in a Secret is not read, and the error says so",
			objs: inSecret, o: Options{ClusterName: "prod"},
			wantErr: "no project: set --project, or --cloud-config to the CCM's cloud config (--cloud-config of DaemonSet kube-system/cloud-controller-manager is /etc/kubernetes/cloud-config/gce.conf, on volume cloud-config, which is no ConfigMap (kubectl-vpc reads no Secret and no file of a node))"},
		{name: "a user who may not read the DaemonSet is told so",
			objs: overlaid, forbid: true, o: Options{Project: "p", Region: "us-central1"},
			wantErr: `no cluster name: set --cluster-name to the CCM's, which names the cluster's cloud resources (read DaemonSet kube-system/cloud-controller-manager: daemonsets.apps "cloud-controller-manager" is forbidden: no grant)`},
		{name: "a user who may not read the DaemonSet traces with flags",
			objs: overlaid, forbid: true, o: Options{Project: "p", Region: "us-central1", ClusterName: "prod"},
			want: settings{"p", "us-central1", "prod", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kube := fake.NewClientset(tc.objs...)
			if tc.forbid {
				forbidDaemonSets(kube)
			}
			s, err := cloudSettingsOf(context.Background(), &tc.o, kube)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("err = %v,\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := settings{s.project, s.region, s.clusterName, s.cfgFrom}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFlagValueReadsBothFormsAndTheLastWins(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   string
		wantOK bool
	}{
		{"--flag=value", []string{"--cloud-provider=gce", "--cluster-name=prod"}, "prod", true},
		{"--flag value", []string{"--cluster-name", "prod"}, "prod", true},
		{"the last one wins", []string{"--cluster-name=a", "--cluster-name", "b"}, "b", true},
		{"a flag whose name starts the same is another", []string{"--cluster-name-suffix=x"}, "", false},
		{"a flag with no value after it is absent", []string{"--cluster-name"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := flagValue(tc.args, "--cluster-name")
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("flagValue(%q) = %q, %v; want %q, %v", tc.args, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

package deploy_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// gce.conf ships as a ConfigMap; a token-url's body is a secret, so the
// DaemonSet mounts an optional Secret that [compute-api] token-body-file
// can name, and a cluster without one still starts.
func TestTheTokenBodyComesFromAnOptionalSecret(t *testing.T) {
	for _, dir := range []string{"base", "overlays/nodeip", "overlays/fake-gce"} {
		t.Run(dir, func(t *testing.T) {
			d := theDaemonSet(t, render(t, dir))
			var mount *corev1.VolumeMount
			for i, m := range theContainer(d).VolumeMounts {
				if m.MountPath == "/etc/kubernetes/cloud-secret" {
					mount = &theContainer(d).VolumeMounts[i]
				}
			}
			if mount == nil || !mount.ReadOnly {
				t.Fatalf("no read-only mount at /etc/kubernetes/cloud-secret: %+v", theContainer(d).VolumeMounts)
			}
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == mount.Name {
					want := &corev1.SecretVolumeSource{SecretName: "cloud-secret", Optional: ptrTo(true)}
					if diff := cmp.Diff(want, v.Secret); diff != "" {
						t.Errorf("volume %s (-want +got):\n%s", v.Name, diff)
					}
					return
				}
			}
			t.Errorf("no volume %s", mount.Name)
		})
	}
}

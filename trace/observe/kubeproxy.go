package observe

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/trace"
)

// kube-proxy's configuration where kubeadm keeps it: ConfigMap kube-proxy
// of kube-system, key config.conf, a KubeProxyConfiguration
// (k8s.io/kubernetes cmd/kubeadm/app/constants: KubeProxyConfigMap,
// KubeProxyConfigMapKey).
const (
	kubeProxyNamespace = "kube-system"
	kubeProxyConfigMap = "kube-proxy"
	kubeProxyConfigKey = "config.conf"
)

// readKubeProxyMode sets the trace's kube-proxy mode from kube-proxy's
// ConfigMap. A cluster without it (kube-proxy configured by flags, or by
// another installer), or a user who may not read it, leaves the mode
// unset: the trace then says it assumes kube-proxy's default.
func (r Reader) readKubeProxyMode(ctx context.Context, s *trace.Settings) error {
	cm, err := r.Kube.CoreV1().ConfigMaps(kubeProxyNamespace).Get(ctx, kubeProxyConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read ConfigMap %s/%s: %w", kubeProxyNamespace, kubeProxyConfigMap, err)
	}
	conf, ok := cm.Data[kubeProxyConfigKey]
	if !ok {
		return nil
	}
	var c struct {
		Mode string `json:"mode"`
	}
	if err := yaml.Unmarshal([]byte(conf), &c); err != nil {
		return fmt.Errorf("read ConfigMap %s/%s key %s: %w", kubeProxyNamespace, kubeProxyConfigMap, kubeProxyConfigKey, err)
	}
	source := "ConfigMap " + kubeProxyNamespace + "/" + kubeProxyConfigMap
	if c.Mode == "" {
		// cmd/kube-proxy/app/server_linux.go, platformApplyDefaults.
		s.KubeProxyMode, s.KubeProxyModeSource = trace.KubeProxyIPTables, source+" (mode unset: kube-proxy's default on Linux)"
		return nil
	}
	s.KubeProxyMode, s.KubeProxyModeSource = c.Mode, source
	return nil
}

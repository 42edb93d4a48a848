package nodeip

import (
	"context"
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/klog/v2"
)

// Where kubeadm keeps kube-proxy's configuration: the ConfigMap kube-proxy in
// kube-system, key config.conf, a KubeProxyConfiguration
// (kubernetes/kubernetes cmd/kubeadm/app/constants: KubeProxyConfigMap,
// KubeProxyConfigMapKey). Other installers that run kube-proxy from a
// ConfigMap of that name mostly copy the layout.
const (
	kubeProxyNamespace = "kube-system"
	kubeProxyConfigMap = "kube-proxy"
	kubeProxyConfigKey = "config.conf"
)

// kubeProxyModeOf is the mode a kube-proxy ConfigMap sets ("" when it sets
// none: iptables on Linux). It is pure.
func kubeProxyModeOf(cm *v1.ConfigMap) (string, error) {
	data, ok := cm.Data[kubeProxyConfigKey]
	if !ok {
		return "", fmt.Errorf("configmap %s/%s has no key %s", cm.Namespace, cm.Name, kubeProxyConfigKey)
	}
	var cfg struct {
		Mode string `json:"mode"`
	}
	if err := yaml.Unmarshal([]byte(data), &cfg); err != nil {
		return "", fmt.Errorf("read %s of configmap %s/%s: %w", kubeProxyConfigKey, cm.Namespace, cm.Name, err)
	}
	return strings.ToLower(strings.TrimSpace(cfg.Mode)), nil
}

// checkKubeProxyMode reads kube-proxy's mode, at start and at every
// resync. In IPVS mode kube-proxy binds every status.loadBalancer IP that
// is not the node's own to its kube-ipvs0 interface (kubernetes/kubernetes
// #63066, pkg/proxy/ipvs/proxier.go), so each node would take the other
// nodes' published addresses for local ones: kubelets, overlays and
// anything else sent to another node's address would stay on the sender.
// The controller then serves no Service (each says why in its condition)
// rather than break the nodes; a switch of mode is seen within a resync.
// A ConfigMap that is missing or cannot be read is logged, and the
// controller serves as before: the mode cannot be known, and
// docs/nodeip.md says iptables or nftables mode is required.
func (c *Controller) checkKubeProxyMode(ctx context.Context) {
	logger := klog.FromContext(ctx)
	ipvs := false
	cm, err := c.client.CoreV1().ConfigMaps(kubeProxyNamespace).Get(ctx, kubeProxyConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		logger.V(2).Info("No kube-proxy ConfigMap; its mode cannot be checked (nodeip needs the iptables or nftables mode)", "configMap", kubeProxyNamespace+"/"+kubeProxyConfigMap)
	case err != nil:
		logger.Error(err, "Cannot read kube-proxy's ConfigMap; its mode is not checked (nodeip needs the iptables or nftables mode)", "configMap", kubeProxyNamespace+"/"+kubeProxyConfigMap)
	default:
		mode, err := kubeProxyModeOf(cm)
		if err != nil {
			logger.Error(err, "Cannot read kube-proxy's mode; it is not checked (nodeip needs the iptables or nftables mode)")
			break
		}
		ipvs = mode == "ipvs"
	}
	if c.kubeProxyIPVS.Swap(ipvs) != ipvs {
		if ipvs {
			logger.Error(nil, "kube-proxy runs in IPVS mode: no nodeip Service is published until it runs in iptables or nftables mode", "configMap", kubeProxyNamespace+"/"+kubeProxyConfigMap)
		}
		c.enqueueServed()
	}
}

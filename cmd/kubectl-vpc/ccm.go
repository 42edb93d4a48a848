package main

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The CCM's workload as deploy/base and the Helm chart install it.
const (
	ccmNamespace = "kube-system"
	ccmDaemonSet = "cloud-controller-manager"
	ccmContainer = "cloud-controller-manager"
)

// ccm is the CCM's DaemonSet, from which the trace reads the cloud config
// and the cluster name the CCM runs with when no flag gives them: the
// arguments of its container (--cloud-config, --cluster-name), the
// ConfigMap volume the cloud config is mounted from, and the ConfigMap an
// environment variable of an argument comes from. It reads nothing else:
// not Secrets, not the node's files.
type ccm struct {
	kube kubernetes.Interface
	ds   *appsv1.DaemonSet
	c    *v1.Container
}

func (c *ccm) name() string { return "DaemonSet " + ccmNamespace + "/" + ccmDaemonSet }

// findCCM reads the CCM's DaemonSet. found is false, with no error, when
// there is none.
func findCCM(ctx context.Context, kube kubernetes.Interface) (c *ccm, found bool, err error) {
	c = &ccm{kube: kube}
	ds, err := kube.AppsV1().DaemonSets(ccmNamespace).Get(ctx, ccmDaemonSet, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read %s: %w", c.name(), err)
	}
	c.ds = ds
	containers := ds.Spec.Template.Spec.Containers
	for i := range containers {
		if containers[i].Name == ccmContainer {
			c.c = &containers[i]
		}
	}
	if c.c == nil && len(containers) > 0 {
		c.c = &containers[0]
	}
	if c.c == nil {
		return c, false, fmt.Errorf("%s has no container", c.name())
	}
	return c, true, nil
}

// clusterName is the value of the CCM's --cluster-name.
func (c *ccm) clusterName(ctx context.Context) (string, error) {
	raw, ok := flagValue(c.args(), "--cluster-name")
	if !ok {
		return "", fmt.Errorf("%s runs the CCM without --cluster-name", c.name())
	}
	name, from, err := c.expand(ctx, raw)
	if err != nil {
		return "", fmt.Errorf("--cluster-name of %s: %w", c.name(), err)
	}
	if name == "" {
		source := "--cluster-name of " + c.name()
		if from != "" {
			source += " (" + from + ")"
		}
		return "", fmt.Errorf("%s is empty", source)
	}
	return name, nil
}

// cloudConfig is the text of the CCM's cloud config, and where it comes
// from: the key of the ConfigMap whose volume holds the file that
// --cloud-config names.
func (c *ccm) cloudConfig(ctx context.Context) (text, source string, err error) {
	raw, ok := flagValue(c.args(), "--cloud-config")
	if !ok {
		return "", "", fmt.Errorf("%s runs the CCM without --cloud-config", c.name())
	}
	file, _, err := c.expand(ctx, raw)
	if err != nil {
		return "", "", fmt.Errorf("--cloud-config of %s: %w", c.name(), err)
	}
	vol, key, ok := c.volumeOf(file)
	if !ok {
		return "", "", fmt.Errorf("--cloud-config of %s is %s, on no volume of its container", c.name(), file)
	}
	if vol.ConfigMap == nil {
		return "", "", fmt.Errorf("--cloud-config of %s is %s, on volume %s, which is no ConfigMap (kubectl-vpc reads no Secret and no file of a node)", c.name(), file, vol.Name)
	}
	for _, item := range vol.ConfigMap.Items {
		if item.Path == key {
			key = item.Key
		}
	}
	text, source, err = c.configMapKey(ctx, vol.ConfigMap.Name, key)
	if err != nil {
		return "", "", fmt.Errorf("--cloud-config of %s: %w", c.name(), err)
	}
	return text, source + ", the --cloud-config of " + c.name(), nil
}

// args are the container's command and arguments, where the CCM's flags are.
func (c *ccm) args() []string { return append(append([]string{}, c.c.Command...), c.c.Args...) }

// volumeOf is the volume of the container that holds file, and the file's
// path inside it.
func (c *ccm) volumeOf(file string) (*v1.Volume, string, bool) {
	file = path.Clean(file)
	for _, m := range c.c.VolumeMounts {
		var key string
		dir := path.Clean(m.MountPath)
		switch {
		case m.SubPath != "" && file == dir:
			key = m.SubPath
		case m.SubPath == "" && strings.HasPrefix(file, dir+"/"):
			key = strings.TrimPrefix(file, dir+"/")
		default:
			continue
		}
		for i, v := range c.ds.Spec.Template.Spec.Volumes {
			if v.Name == m.Name {
				return &c.ds.Spec.Template.Spec.Volumes[i], key, true
			}
		}
	}
	return nil, "", false
}

// envRef is a $(VAR) reference of an argument; the kubelet expands it from
// the container's env (https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/).
var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expand replaces the $(VAR) references of an argument with the values of
// the container's env: a value, or a ConfigMap's key, which from names.
func (c *ccm) expand(ctx context.Context, arg string) (value, from string, err error) {
	var froms []string
	var firstErr error
	value = envRef.ReplaceAllStringFunc(arg, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v, src, err := c.env(ctx, name)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if src != "" {
			froms = append(froms, src)
		}
		return v
	})
	if firstErr != nil {
		return "", "", firstErr
	}
	return value, strings.Join(froms, "; "), nil
}

// env is the value of the container's environment variable name.
func (c *ccm) env(ctx context.Context, name string) (value, source string, err error) {
	for _, e := range c.c.Env {
		if e.Name != name {
			continue
		}
		switch {
		case e.ValueFrom == nil:
			return e.Value, "", nil
		case e.ValueFrom.ConfigMapKeyRef != nil:
			return c.configMapKey(ctx, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
		default:
			return "", "", fmt.Errorf("$(%s) comes from no value and no ConfigMap (kubectl-vpc reads no Secret and no field of a pod)", name)
		}
	}
	return "", "", fmt.Errorf("$(%s) is in no env of the container", name)
}

// configMapKey is the value of key in the ConfigMap name of the CCM's
// namespace, and where it comes from.
func (c *ccm) configMapKey(ctx context.Context, name, key string) (value, source string, err error) {
	source = "ConfigMap " + ccmNamespace + "/" + name + ", key " + key
	cm, err := c.kube.CoreV1().ConfigMaps(ccmNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("read ConfigMap %s/%s: %w", ccmNamespace, name, err)
	}
	value, ok := cm.Data[key]
	if !ok {
		return "", "", fmt.Errorf("%s: no such key", source)
	}
	return value, source, nil
}

// flagValue is the value of a --name=value or --name value argument; the
// last one wins, as with the CCM's flag parser.
func flagValue(args []string, name string) (value string, ok bool) {
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, name+"="):
			value, ok = strings.TrimPrefix(a, name+"="), true
		case a == name && i+1 < len(args):
			value, ok = args[i+1], true
		}
	}
	return value, ok
}

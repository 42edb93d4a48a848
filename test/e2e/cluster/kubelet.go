package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// UninitializedTaint is the taint a --cloud-provider=external kubelet puts
// on its Node until the cloud node controller has initialised it.
const UninitializedTaint = "node.cloudprovider.kubernetes.io/uninitialized"

// Kubelet registers a Node and heartbeats it (a Lease in kube-node-lease and
// the Ready condition) with the node's own identity, as a kubelet started
// with --cloud-provider=external does. It runs no pods.
type Kubelet struct {
	Name     string
	client   kubernetes.Interface
	interval time.Duration
	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
}

// StartKubelet registers node name (one of node-1..node-64) unless it exists,
// and heartbeats every interval until Stop.
func (cp *ControlPlane) StartKubelet(ctx context.Context, name string, interval time.Duration) (*Kubelet, error) {
	client, err := kubernetes.NewForConfig(cp.RESTConfig(NodeToken(name)))
	if err != nil {
		return nil, err
	}
	k := &Kubelet{Name: name, client: client, interval: interval}
	if err := k.register(ctx); err != nil {
		return nil, fmt.Errorf("register node %s: %w", name, err)
	}
	if err := k.heartbeat(ctx); err != nil {
		return nil, fmt.Errorf("first heartbeat of node %s: %w", name, err)
	}
	k.Resume()
	return k, nil
}

func (k *Kubelet) register(ctx context.Context) error {
	node := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: k.Name, Labels: map[string]string{
			"kubernetes.io/hostname": k.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
		}},
		Spec: v1.NodeSpec{Taints: []v1.Taint{{Key: UninitializedTaint, Value: "true", Effect: v1.TaintEffectNoSchedule}}},
		Status: v1.NodeStatus{
			Capacity:    nodeResources(),
			Allocatable: nodeResources(),
			Addresses:   []v1.NodeAddress{{Type: v1.NodeHostName, Address: k.Name}},
			Conditions:  []v1.NodeCondition{readyCondition(v1.ConditionTrue)},
			NodeInfo: v1.NodeSystemInfo{KubeletVersion: "v1.37.2", KubeProxyVersion: "v1.37.2", OperatingSystem: "linux",
				Architecture: "amd64", ContainerRuntimeVersion: "simulated://1.0"},
			DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: 10250}},
		},
	}
	_, err := k.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func nodeResources() v1.ResourceList {
	return v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("16Gi"),
		v1.ResourcePods: resource.MustParse("110")}
}

func readyCondition(status v1.ConditionStatus) v1.NodeCondition {
	now := metav1.Now()
	reason, msg := "KubeletReady", "kubelet is posting ready status"
	if status != v1.ConditionTrue {
		reason, msg = "NodeStatusUnknown", "Kubelet stopped posting node status."
	}
	return v1.NodeCondition{Type: v1.NodeReady, Status: status, LastHeartbeatTime: now, LastTransitionTime: now,
		Reason: reason, Message: msg}
}

// heartbeat renews the node's Lease and posts Ready=True.
func (k *Kubelet) heartbeat(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases("kube-node-lease")
	now := metav1.NowMicro()
	lease, err := leases.Get(ctx, k.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.Name, Namespace: "kube-node-lease"},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(k.Name), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &now},
		}, metav1.CreateOptions{})
	case err == nil:
		lease.Spec.RenewTime = &now
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil && !apierrors.IsConflict(err) {
		return err
	}
	return k.postReady(ctx, v1.ConditionTrue)
}

func (k *Kubelet) postReady(ctx context.Context, status v1.ConditionStatus) error {
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": []v1.NodeCondition{readyCondition(status)}}})
	_, err := k.client.CoreV1().Nodes().Patch(ctx, k.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// Stop ends the heartbeats (the kubelet died). With notReady, it also posts
// Ready=Unknown, as the node lifecycle controller would once the heartbeats
// are late (this control plane runs no kube-controller-manager).
func (k *Kubelet) Stop(ctx context.Context, notReady bool) error {
	k.mu.Lock()
	if k.cancel != nil {
		k.cancel()
		<-k.done
		k.cancel = nil
	}
	k.mu.Unlock()
	if notReady {
		err := k.postReady(ctx, v1.ConditionUnknown)
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return nil
		}
		return err
	}
	return nil
}

// Resume starts the heartbeats again.
func (k *Kubelet) Resume() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel, k.done = cancel, make(chan struct{})
	go func() {
		defer close(k.done)
		t := time.NewTicker(k.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				k.heartbeat(ctx)
			}
		}
	}()
}

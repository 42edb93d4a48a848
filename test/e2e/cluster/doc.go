// Package cluster runs a real Kubernetes control plane on loopback for the
// end-to-end suite and for local-up: etcd and kube-apiserver built from the
// Kubernetes modules (hack/build-kube-binaries.sh), fake-gce, the
// vpc-cloud-controller-manager binary built from this tree, and simulated
// kubelets that register and heartbeat Nodes as a --cloud-provider=external
// kubelet does. A test may also run the real rest of a cluster:
// kube-controller-manager and kube-scheduler, each with its own identity, and
// hollow kubelets (hack/tools/hollow-node: the real kubelet code with a fake
// container runtime) that register their Nodes, heartbeat and run pods.
//
// Every process it starts is stopped by Stop, also on failure; each writes
// its log to a file under the working directory, which is kept for a failed
// test. It listens only on 127.0.0.1, but for kube-apiserver when
// ControlPlaneOptions.BindAddress names another address.
package cluster

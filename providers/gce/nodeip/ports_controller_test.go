package nodeip

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// waitForProblem waits until the Service's condition is False with reason
// and a message that says every part, and for a Warning event of the
// reason; the Service then publishes nothing and has no firewall rule.
func (h *harness) waitForProblem(svc *v1.Service, reason string, parts ...string) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("%s reports %s", svc.Name, reason), func() (bool, string) {
		c := h.condition(svc.Name)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason && containsAll(c.Message, parts...), fmt.Sprintf("%+v", c)
	})
	h.waitForEvent(svc.Name, v1.EventTypeWarning, reason, parts[0])
	h.processed()
	if got := h.ingress(svc.Name); len(got) != 0 {
		h.t.Errorf("%s publishes %v, want nothing", svc.Name, got)
	}
	if fw := h.rule(svc); fw != nil {
		h.t.Errorf("%s has a firewall rule %s allowing %v, want none", svc.Name, fw.Name, fw.Allowed[0])
	}
}

// The attack of issue 20: a Service of ports 10260-40259 opened
// tcp:10260-40259 to the internet on every node and took every NodePort.
func TestAServiceOverThePortCapIsRefused(t *testing.T) {
	hostile := newService("hostile", hostilePorts())
	ok := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{hostile, ok}))
	h.waitFor(ok, abc, abc) // the controller is working
	h.waitForProblem(hostile, ReasonTooManyPorts, "30000 ports", "nodeip-max-ports")
}

func TestAPortInTheNodePortRangeIsRefused(t *testing.T) {
	svc := newService("web", withPorts(80, 30080))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc}))
	h.waitForProblem(svc, ReasonReservedPort, "TCP/30080", "NodePort range 30000-32767")
}

func TestAnOverlayPortIsRefusedForItsProtocolOnly(t *testing.T) {
	vxlan := newService("vxlan", fixture.Ports(v1.ProtocolUDP, 8472))
	tcp := newService("tcp", withPorts(8472))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{vxlan, tcp}))
	h.waitFor(tcp, abc, abc)
	h.waitForProblem(vxlan, ReasonReservedPort, "UDP/8472", "reserved range 8472/UDP")
}

// withNodePort gives the Service's first port a NodePort.
func withNodePort(p int32) fixture.ServiceOption {
	return func(s *v1.Service) { s.Spec.Ports[0].NodePort = p }
}

func typeNodePort() fixture.ServiceOption {
	return func(s *v1.Service) { s.Spec.Type = v1.ServiceTypeNodePort }
}

// A cluster whose NodePort range is not the default one (the cloud config
// cannot know it): a nodeip port equal to another Service's NodePort would
// take that NodePort on every published node, as kube-proxy matches the
// load-balancer IP and port first.
func TestAPortThatIsAnotherServicesNodePortIsRefusedUntilTheNodePortMoves(t *testing.T) {
	np := newService("np", fixture.WithoutAnnotation(annotations.Mode), typeNodePort(), withPorts(8080), withNodePort(20500))
	web := newService("web", withPorts(20500), createdAt(-60e9)) // older than the NodePort Service: the NodePort wins anyway
	h := startHarness(t, objects(threeNodes(), []runtime.Object{np, web}))
	h.waitForProblem(web, ReasonPortConflict, "TCP/20500", "default/np")

	h.updateService("np", func(s *v1.Service) { s.Spec.Ports[0].NodePort = 20501 })
	h.waitFor(web, abc, abc)
}

func TestAPortThatIsAnotherServicesHealthCheckNodePortIsRefused(t *testing.T) {
	lb := newService("lb", fixture.WithoutAnnotation(annotations.Mode), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal), func(s *v1.Service) { s.Spec.HealthCheckNodePort = 20600 })
	web := newService("web", withPorts(20600))
	h := startHarness(t, objects(threeNodes(), []runtime.Object{lb, web}))
	h.waitForProblem(web, ReasonPortConflict, "TCP/20600", "default/lb")
}

func kubeProxyConfigMapWith(mode string) *v1.ConfigMap {
	return &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"},
		Data: map[string]string{"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: " + mode + "\n"}}
}

// kube-proxy in IPVS mode binds every load-balancer IP to kube-ipvs0 on
// every node: each node would take the others' addresses for its own.
func TestKubeProxyInIPVSModeRefusesEveryServiceUntilItChanges(t *testing.T) {
	svc := newService("web")
	h := startHarness(t, objects(threeNodes(), []runtime.Object{svc, kubeProxyConfigMapWith("ipvs")}))
	h.waitForProblem(svc, ReasonKubeProxyIPVS, "kube-proxy runs in IPVS mode", "iptables or nftables")

	if _, err := h.client.CoreV1().ConfigMaps("kube-system").Update(h.ctx, kubeProxyConfigMapWith("nftables"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.restart() // the mode is read at start and at every resync
	h.waitFor(svc, abc, abc)
}

func TestKubeProxyModeOf(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    string
		wantErr bool
	}{
		{name: "kubeadm's IPVS configuration", data: kubeProxyConfigMapWith("ipvs").Data, want: "ipvs"},
		{name: "the mode is read whatever its case", data: map[string]string{"config.conf": "mode: IPVS"}, want: "ipvs"},
		{name: "no mode is the default mode", data: map[string]string{"config.conf": "kind: KubeProxyConfiguration\nclusterCIDR: 10.64.0.0/14\n"}, want: ""},
		{name: "a ConfigMap without config.conf says nothing", data: map[string]string{"kubeconfig.conf": "x"}, wantErr: true},
		{name: "a config.conf that is not YAML is an error", data: map[string]string{"config.conf": "mode: [ipvs"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kubeProxyModeOf(&v1.ConfigMap{Data: tt.data})
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("kubeProxyModeOf = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

package ccm

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/cloud-provider/app"
	"k8s.io/cloud-provider/names"
	genericcontrollermanager "k8s.io/controller-manager/app"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall/firewallgc"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
)

func TestTheNodeIPControllerIsRegisteredBesideTheUpstreamOnes(t *testing.T) {
	got := ControllerInitFuncConstructors()
	c, ok := got[nodeip.Name]
	if !ok {
		t.Fatalf("no %q among %d controllers", nodeip.Name, len(got))
	}
	if c.InitContext.ClientName != "nodeip-service-controller" || c.Constructor == nil {
		t.Errorf("%s = client %q, constructor set %v; want client nodeip-service-controller and a constructor", nodeip.Name, c.InitContext.ClientName, c.Constructor != nil)
	}
	for name := range app.DefaultInitFuncConstructors {
		if _, ok := got[name]; !ok {
			t.Errorf("the upstream controller %s is missing", name)
		}
	}
	if _, ok := app.DefaultInitFuncConstructors[nodeip.Name]; ok {
		t.Errorf("the upstream map was changed in place")
	}
}

func TestTheServiceControllerIsThisProjects(t *testing.T) {
	got, ok := ControllerInitFuncConstructors()[names.ServiceLBController]
	if !ok {
		t.Fatalf("%s is not registered", names.ServiceLBController)
	}
	if reflect.ValueOf(got.Constructor).Pointer() != reflect.ValueOf(startServiceController).Pointer() {
		t.Errorf("%s starts upstream's controller, want this project's", names.ServiceLBController)
	}
	if want := app.DefaultInitFuncConstructors[names.ServiceLBController].InitContext; got.InitContext != want {
		t.Errorf("client identity %+v, want upstream's %+v", got.InitContext, want)
	}
}

func TestTheFirewallGarbageCollectorIsARegisteredControllerThatControllersTurnsOff(t *testing.T) {
	c, ok := ControllerInitFuncConstructors()[firewallgc.Name]
	if !ok {
		t.Fatalf("%s is not registered", firewallgc.Name)
	}
	if c.InitContext.ClientName != "firewall-gc-controller" || reflect.ValueOf(c.Constructor).Pointer() != reflect.ValueOf(startFirewallGC).Pointer() {
		t.Errorf("%s = client %q; want client firewall-gc-controller and startFirewallGC", firewallgc.Name, c.InitContext.ClientName)
	}
	// What the command asks of each controller in the map before it
	// starts it (k8s.io/cloud-provider app.startControllers).
	for _, tc := range []struct {
		controllers []string
		want        bool
	}{
		{[]string{"*"}, true},
		{[]string{"*", "-firewall-gc"}, false},
		{[]string{"cloud-node", "service-lb-controller"}, false},
	} {
		if got := genericcontrollermanager.IsControllerEnabled(firewallgc.Name, app.ControllersDisabledByDefault, tc.controllers); got != tc.want {
			t.Errorf("--controllers=%s: enabled %v, want %v", strings.Join(tc.controllers, ","), got, tc.want)
		}
	}
}

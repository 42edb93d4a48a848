package nodeip

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestRoleOf(t *testing.T) {
	other := "example.com/lb"
	now := metav1.Now()
	tests := []struct {
		name        string
		svc         *v1.Service
		defaultMode string
		want        role
	}{
		{"a Service annotated nodeip is served", newService("s"), annotations.ModeExternal, serve},
		{"a Service of the nodeip class is served", newService("s", nodeIPClass()), annotations.ModeExternal, serve},
		{"a Service without annotation is served when the default is nodeip",
			newService("s", fixture.WithoutAnnotation(annotations.Mode)), annotations.ModeNodeIP, serve},
		{"a Service without annotation is released when the default is external",
			newService("s", fixture.WithoutAnnotation(annotations.Mode)), annotations.ModeExternal, release},
		{"the external annotation opts a Service out of a nodeip default",
			newService("s", fixture.Annotation(annotations.Mode, annotations.ModeExternal)), annotations.ModeNodeIP, release},
		{"a Service that stopped being a LoadBalancer is released", newService("s", fixture.Type(v1.ServiceTypeClusterIP)), annotations.ModeNodeIP, release},
		{"a Service being deleted is released", newService("s", func(s *v1.Service) { s.DeletionTimestamp = &now }), annotations.ModeNodeIP, release},
		{"a Service of another class is someone else's", newService("s", func(s *v1.Service) { s.Spec.LoadBalancerClass = &other }), annotations.ModeNodeIP, ignore},
		{"a Service with a bad mode annotation is left alone", newService("s", fixture.Annotation(annotations.Mode, "nodeIP-please")), annotations.ModeNodeIP, ignore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := roleOf(tt.svc, tt.defaultMode); got != tt.want {
				t.Errorf("roleOf = %v, want %v", got, tt.want)
			}
		})
	}
}

package annotations

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(annots map[string]string, mutate ...func(*v1.Service)) *v1.Service {
	s := &v1.Service{ObjectMeta: metav1.ObjectMeta{Annotations: annots}}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func TestModeOf(t *testing.T) {
	class := NodeIPClass
	other := "example.com/other"
	tests := []struct {
		name    string
		svc     *v1.Service
		def     string
		want    string
		wantErr string
	}{
		{name: "no annotation takes the default", svc: svc(nil), def: ModeNodeIP, want: ModeNodeIP},
		{name: "the nodeip class wins over an external annotation", svc: svc(map[string]string{Mode: "external"}, func(s *v1.Service) { s.Spec.LoadBalancerClass = &class }), def: ModeExternal, want: ModeNodeIP},
		{name: "another class falls back to the annotation", svc: svc(map[string]string{Mode: "NodeIP"}, func(s *v1.Service) { s.Spec.LoadBalancerClass = &other }), def: ModeExternal, want: ModeNodeIP},
		{name: "external opts out of a nodeip default", svc: svc(map[string]string{Mode: " external "}), def: ModeNodeIP, want: ModeExternal},
		{name: "an unknown mode is an error naming the annotation", svc: svc(map[string]string{Mode: "magic"}), def: ModeExternal,
			wantErr: `cloud-provider-vpc.io/load-balancer-mode: "magic" is not a mode: use external or nodeip`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ModeOf(tt.svc, tt.def)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ModeOf = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSourceRangesOf(t *testing.T) {
	def := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	tests := []struct {
		name    string
		svc     *v1.Service
		want    []netip.Prefix
		wantErr string
	}{
		{name: "nothing given takes the default", svc: svc(nil), want: def},
		{name: "the spec field wins over the annotation and is masked", svc: svc(map[string]string{SourceRanges: "10.0.0.0/8"}, func(s *v1.Service) {
			s.Spec.LoadBalancerSourceRanges = []string{"192.168.1.7/24"}
		}), want: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}},
		{name: "the annotation takes a comma-separated list", svc: svc(map[string]string{SourceRanges: "10.0.0.0/8, 2001:db8::/32"}),
			want: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}},
		{name: "a bad range names where it came from", svc: svc(map[string]string{SourceRanges: "10.0.0.0/8,nope"}),
			wantErr: `service.beta.kubernetes.io/load-balancer-source-ranges: "nope" is not a CIDR range such as 203.0.113.0/24`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SourceRangesOf(tt.svc, def)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestScalarAnnotations(t *testing.T) {
	tests := []struct {
		name    string
		get     func() (any, error)
		want    any
		wantErr string
	}{
		{name: "Premium is the default tier", get: func() (any, error) { return NetworkTierOf(svc(nil)) }, want: TierPremium},
		{name: "the tier is case-insensitive", get: func() (any, error) { return NetworkTierOf(svc(map[string]string{NetworkTier: "standard"})) }, want: TierStandard},
		{name: "an unknown tier is refused", get: func() (any, error) { return NetworkTierOf(svc(map[string]string{NetworkTier: "Gold"})) },
			wantErr: `cloud.google.com/network-tier: "Gold" is not a network tier: use Premium or Standard`},
		{name: "a static address name", get: func() (any, error) { return StaticAddressOf(svc(map[string]string{StaticAddress: "my-ip"})) }, want: "my-ip"},
		{name: "a static address that is no name", get: func() (any, error) { return StaticAddressOf(svc(map[string]string{StaticAddress: "-bad"})) },
			wantErr: `cloud-provider-vpc.io/static-address: "-bad" is not an address name (lowercase letters, digits and hyphens)`},
		{name: "no cap by default", get: func() (any, error) { return MaxAddressesOf(svc(nil)) }, want: 0},
		{name: "a cap of zero is refused", get: func() (any, error) { return MaxAddressesOf(svc(map[string]string{MaxAddresses: "0"})) },
			wantErr: `cloud-provider-vpc.io/max-addresses: "0" is not a whole number of at least 1`},
		{name: "the backend default", get: func() (any, error) { return BackendOf(svc(nil), "backend-service") }, want: "backend-service"},
		{name: "a backend chosen by the Service", get: func() (any, error) {
			return BackendOf(svc(map[string]string{Backend: "Target-Pool"}), "backend-service")
		}, want: "target-pool"},
		{name: "an unknown backend", get: func() (any, error) { return BackendOf(svc(map[string]string{Backend: "pool"}), "") },
			wantErr: `cloud-provider-vpc.io/backend: "pool" is not a backend: use target-pool or backend-service`},
		{name: "the GKE internal annotation", get: func() (any, error) { return TypeOf(svc(map[string]string{GKELoadBalancerType: "Internal"})) }, want: TypeInternal},
		{name: "the legacy internal annotation", get: func() (any, error) { return TypeOf(svc(map[string]string{LegacyLoadBalancerType: "Internal"})) }, want: TypeInternal},
		{name: "external unless asked", get: func() (any, error) { return TypeOf(svc(nil)) }, want: TypeExternal},
		{name: "a bad type", get: func() (any, error) { return TypeOf(svc(map[string]string{LoadBalancerType: "private"})) },
			wantErr: `cloud-provider-vpc.io/load-balancer-type: "private" is not a load balancer type: use Internal or External`},
		{name: "global access", get: func() (any, error) { return GlobalAccessOf(svc(map[string]string{InternalGlobalAccess: "true"})) }, want: true},
		{name: "global access that is no boolean", get: func() (any, error) { return GlobalAccessOf(svc(map[string]string{InternalGlobalAccess: "yes please"})) },
			wantErr: `networking.gke.io/internal-load-balancer-allow-global-access: "yes please" is not true or false`},
		{name: "an internal subnet", get: func() (any, error) { return InternalSubnetOf(svc(map[string]string{InternalSubnet: "ilb"})) }, want: "ilb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

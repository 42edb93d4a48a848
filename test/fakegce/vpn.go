package fakegce

// Classic VPN target gateways: fake-gce keeps them as resources that
// forwarding rules (ESP, UDP 500/4500) can target; no tunnel carries traffic.

func init() {
	register(&kind{resource: "targetVpnGateways", schema: "TargetVpnGateway",
		refs:    []refSpec{{path: "network", collection: "networks", scope: "global", blocksDelete: true}},
		prepare: prepareTargetVpnGateway})
}

func prepareTargetVpnGateway(t *tx, c *call, obj, old map[string]any) error {
	if str(obj, "network") == "" {
		return required("resource.network")
	}
	// The API answers a new gateway READY (its other states are CREATING,
	// DELETING and FAILED); the fake provisions nothing, so it is READY at once.
	obj["status"] = "READY"
	return nil
}

package fakegce

import "fmt"

// Instance templates: stored instance properties that instances.insert can
// start from (?sourceInstanceTemplate=), as terraform's instance-from-template
// and Config Connector's ComputeInstance with instanceTemplateRef do.

func init() {
	templateRefs := []refSpec{
		{path: "properties.networkInterfaces[].network", collection: "networks", scope: "global"},
		{path: "properties.networkInterfaces[].subnetwork", collection: "subnetworks", scope: "region"},
	}
	register(&kind{resource: "instanceTemplates", schema: "InstanceTemplate",
		refs: templateRefs, prepare: prepareInstanceTemplate})
	register(&kind{resource: "regionInstanceTemplates", collection: "instanceTemplates", schema: "InstanceTemplate",
		refs: templateRefs, prepare: prepareInstanceTemplate})
}

// prepareInstanceTemplate keeps the properties as sent (a machine type or
// image stays the bare name or family the client gave) and adds what the API
// answers on top: the kinds, disk indexes and device names, interface names,
// the metadata fingerprint and the scheduling defaults.
func prepareInstanceTemplate(t *tx, c *call, obj, old map[string]any) error {
	props := objField(obj, "properties")
	if props == nil {
		return required("resource.properties")
	}
	if str(props, "machineType") == "" {
		return required("resource.properties.machineType")
	}
	for i, d := range list(props, "disks") {
		ad, _ := d.(map[string]any)
		if ad == nil {
			continue
		}
		ad["kind"] = "compute#attachedDisk"
		ad["index"] = num(int64(i))
		setDefault(ad, "deviceName", fmt.Sprintf("persistent-disk-%d", i))
		setDefault(ad, "type", "PERSISTENT")
		setDefault(ad, "mode", "READ_WRITE")
	}
	for i, n := range list(props, "networkInterfaces") {
		if nic, _ := n.(map[string]any); nic != nil {
			nic["kind"] = "compute#networkInterface"
			nic["name"] = fmt.Sprintf("nic%d", i)
		}
	}
	schedulingDefaults(props)
	return stampMetadata(props)
}

// applySourceTemplate starts an instance being inserted from the template
// the request names: every property the request body leaves out comes from
// the template; what the body gives wins.
func applySourceTemplate(t *tx, c *call, obj map[string]any) error {
	src := c.query.Get("sourceInstanceTemplate")
	if src == "" {
		return nil
	}
	r, ok := parseRef(src, ref{Project: c.project, Collection: "instanceTemplates"})
	if !ok || r.Collection != "instanceTemplates" {
		return invalidValue("sourceInstanceTemplate", src, "The URL is malformed.")
	}
	tmpl := t.get(r.coll(), r.Name)
	if tmpl == nil {
		return notFound(r.path())
	}
	for k, v := range objField(tmpl, "properties") {
		if _, given := obj[k]; !given {
			obj[k] = deepCopy(v)
		}
	}
	return nil
}

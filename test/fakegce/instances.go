package fakegce

import (
	"fmt"
	"net/http"
	"strings"
)

// Instances, their disks, and unmanaged instance groups.

func init() {
	register(&kind{resource: "instances", schema: "Instance", quota: "INSTANCES", fingerprint: true,
		fill: fillInstance,
		refs: []refSpec{
			{path: "networkInterfaces[].network", collection: "networks", scope: "global", blocksDelete: true},
			{path: "networkInterfaces[].subnetwork", collection: "subnetworks", scope: "region", blocksDelete: true},
			{path: "disks[].source", collection: "disks", scope: "zone", blocksDelete: true},
		},
		prepare: prepareInstance, beforeDelete: deleteInstanceOwned,
		custom: map[string]handler{
			"setTags":     {mutation: &mutation{apply: setInstanceTags}},
			"setMetadata": {mutation: &mutation{apply: setInstanceMetadata}},
			"stop":        {mutation: &mutation{apply: setInstanceRunning(false)}},
			"start":       {mutation: &mutation{apply: setInstanceRunning(true)}},
		}})
	register(&kind{resource: "disks", schema: "Disk", prepare: prepareDisk})
	register(&kind{resource: "instanceGroups", schema: "InstanceGroup", quota: "INSTANCE_GROUPS", fingerprint: true,
		refs: []refSpec{
			{path: "network", collection: "networks", scope: "global", blocksDelete: true},
			{path: "subnetwork", collection: "subnetworks", scope: "region", blocksDelete: true},
		},
		prepare: prepareInstanceGroup,
		custom: map[string]handler{
			"addInstances":    {mutation: &mutation{apply: groupMembers(true)}},
			"removeInstances": {mutation: &mutation{apply: groupMembers(false)}},
			"setNamedPorts":   {mutation: &mutation{apply: setNamedPorts}},
			"listInstances":   {read: listGroupInstances},
		}})
}

// fillInstance completes an instance before its references resolve: it
// takes what the request leaves out from its sourceInstanceTemplate, and an
// interface names a subnetwork, a network, or neither (the default network).
func fillInstance(t *tx, c *call, obj map[string]any) error {
	if err := applySourceTemplate(t, c, obj); err != nil {
		return err
	}
	for _, n := range list(obj, "networkInterfaces") {
		nic, _ := n.(map[string]any)
		if nic != nil && str(nic, "network") == "" && str(nic, "subnetwork") == "" {
			nic["network"] = "global/networks/default"
		}
	}
	return nil
}

func prepareInstance(t *tx, c *call, obj, old map[string]any) error {
	if old != nil {
		return prepareInstanceUpdate(obj, old)
	}
	mt := str(obj, "machineType")
	if mt == "" {
		return required("resource.machineType")
	}
	r, ok := parseRef(mt, c.def("machineTypes"))
	if !ok || r.Collection != "machineTypes" || c.s.cat.machineType(c.project, r.Zone, r.Name) == nil {
		return invalidValue("resource.machineType", mt, "The referenced machineType resource cannot be found.")
	}
	if r.Zone != c.zone {
		return invalidValue("resource.machineType", mt, "The machine type must be in the instance's zone "+c.zone+".")
	}
	obj["machineType"] = r.link()
	if len(list(obj, "networkInterfaces")) == 0 {
		return invalid("Invalid value for field 'resource.networkInterfaces': at least one network interface is required.")
	}
	if err := attachInterfaces(t, c, obj); err != nil {
		return err
	}
	if err := attachDisks(t, c, obj); err != nil {
		return err
	}
	obj["status"] = "RUNNING"
	obj["cpuPlatform"] = "Intel Broadwell"
	obj["lastStartTimestamp"] = timestamp(c.now)
	// canIpForward stays absent unless sent (or set by the template): the
	// instances recorded from a template have none (fixtures/gcp-http-logs,
	// computetargetpool and computeinstancegroup).
	setDefault(obj, "deletionProtection", false)
	setDefault(obj, "startRestricted", false)
	shieldedDefaults(obj)
	schedulingDefaults(obj)
	tags := objField(obj, "tags")
	if tags == nil {
		tags = map[string]any{}
		obj["tags"] = tags
	}
	if err := checkTags(strList(tags, "items")); err != nil {
		return err
	}
	tags["fingerprint"] = fingerprintOf(strList(tags, "items"))
	if err := stampMetadata(obj); err != nil {
		return err
	}
	for _, k := range []string{"params"} {
		delete(obj, k) // input-only
	}
	return nil
}

// schedulingDefaults fills the scheduling an instance (or a template's
// instance properties) answers with when the request leaves it out.
func schedulingDefaults(obj map[string]any) {
	sched := objField(obj, "scheduling")
	if sched == nil {
		sched = map[string]any{}
		obj["scheduling"] = sched
	}
	setDefault(sched, "automaticRestart", true)
	setDefault(sched, "onHostMaintenance", "MIGRATE")
	setDefault(sched, "preemptible", false)
	setDefault(sched, "provisioningModel", "STANDARD")
}

// stampMetadata checks an instance's metadata and gives it its kind and the
// fingerprint setMetadata must be sent with (an empty metadata has one too).
func stampMetadata(obj map[string]any) error {
	md := objField(obj, "metadata")
	if md == nil {
		md = map[string]any{}
		obj["metadata"] = md
	}
	if err := checkMetadata(md); err != nil {
		return err
	}
	md["kind"] = "compute#metadata"
	md["fingerprint"] = fingerprintOf(list(md, "items"))
	return nil
}

// shieldedDefaults fills the Shielded VM settings every instance answers
// with: the API's defaults are vTPM and integrity monitoring on, secure
// boot off, and the integrity baseline relearned on update.
func shieldedDefaults(obj map[string]any) {
	cfg := objField(obj, "shieldedInstanceConfig")
	if cfg == nil {
		cfg = map[string]any{}
		obj["shieldedInstanceConfig"] = cfg
	}
	setDefault(cfg, "enableSecureBoot", false)
	setDefault(cfg, "enableVtpm", true)
	setDefault(cfg, "enableIntegrityMonitoring", true)
	pol := objField(obj, "shieldedInstanceIntegrityPolicy")
	if pol == nil {
		pol = map[string]any{}
		obj["shieldedInstanceIntegrityPolicy"] = pol
	}
	setDefault(pol, "updateAutoLearnPolicy", true)
}

// prepareInstanceUpdate keeps what instances.update may not change.
func prepareInstanceUpdate(obj, old map[string]any) error {
	for _, f := range []string{"status", "cpuPlatform", "lastStartTimestamp", "lastStopTimestamp", "networkInterfaces", "disks", "machineType"} {
		if v, ok := old[f]; ok {
			obj[f] = v
		}
	}
	return nil
}

func attachInterfaces(t *tx, c *call, obj map[string]any) error {
	for i, n := range list(obj, "networkInterfaces") {
		nic, _ := n.(map[string]any)
		at := fmt.Sprintf("resource.networkInterfaces[%d]", i)
		var sub map[string]any
		if s := str(nic, "subnetwork"); s != "" {
			r, _ := parseRef(s, ref{})
			if r.Region != c.region {
				return invalidValue(at+".subnetwork", s, "The subnetwork must be in the instance's region "+c.region+".")
			}
			sub = t.get(r.coll(), r.Name)
			if nw := str(nic, "network"); nw != "" && nw != str(sub, "network") {
				return invalidValue(at+".network", nw, "The subnetwork belongs to another network.")
			}
			nic["network"] = str(sub, "network")
		} else {
			for _, s := range t.list("projects/" + c.project + "/regions/" + c.region + "/subnetworks") {
				if str(s, "network") == str(nic, "network") {
					sub = s
					break
				}
			}
			if sub == nil {
				return invalidValue(at+".subnetwork", "", "The network has no subnetwork in region "+c.region+"; name one.")
			}
			nic["subnetwork"] = str(sub, "selfLink")
		}
		ip := str(nic, "networkIP")
		used := internalInUse(t, c.project, str(sub, "selfLink"))
		if ip == "" {
			var err error
			if ip, err = allocateInternal(t, c.project, sub); err != nil {
				return err
			}
		} else if !usableInSubnet(sub, ip) {
			return invalidValue(at+".networkIP", ip, "The address is not a usable address of subnetwork "+str(sub, "name")+".")
		} else if user, taken := used[ip]; taken {
			if a := addressByIP(t, c.project, c.region, ip); a == nil || len(strList(a, "users")) > 0 {
				return addressTaken(ip, user, obj)
			}
		}
		nic["networkIP"] = ip
		nic["name"] = fmt.Sprintf("nic%d", i)
		nic["kind"] = "compute#networkInterface"
		setDefault(nic, "stackType", "IPV4_ONLY")
		for j, a := range list(nic, "accessConfigs") {
			ac, _ := a.(map[string]any)
			if err := attachAccessConfig(t, c, obj, ac, fmt.Sprintf("%s.accessConfigs[%d]", at, j)); err != nil {
				return err
			}
		}
		nic["fingerprint"] = fingerprintOf(nic)
		if a := addressByIP(t, c.project, c.region, ip); a != nil && str(a, "addressType") == "INTERNAL" {
			setAddressUser(t, a, str(obj, "selfLink"), true)
		}
	}
	return nil
}

func attachAccessConfig(t *tx, c *call, inst, ac map[string]any, at string) error {
	setDefault(ac, "type", "ONE_TO_ONE_NAT")
	setDefault(ac, "name", "External NAT")
	setDefault(ac, "networkTier", "PREMIUM")
	ac["kind"] = "compute#accessConfig"
	ip := str(ac, "natIP")
	if ip == "" {
		var err error
		if ip, err = c.s.allocateExternal(t); err != nil {
			return err
		}
		ac["natIP"] = ip
		return nil
	}
	a := addressByIP(t, c.project, c.region, ip)
	if a == nil || str(a, "addressType") == "INTERNAL" {
		return invalidValue(at+".natIP", ip, "The IP address is not a reserved external address in region "+c.region+".")
	}
	if us := strList(a, "users"); len(us) > 0 {
		return addressTaken(ip, us[0], inst)
	}
	setAddressUser(t, a, str(inst, "selfLink"), true)
	return nil
}

func attachDisks(t *tx, c *call, obj map[string]any) error {
	disks := list(obj, "disks")
	if len(disks) == 0 {
		return invalid("Invalid value for field 'resource.disks': at least one disk is required.")
	}
	boots := 0
	for i, d := range disks {
		ad, _ := d.(map[string]any)
		at := fmt.Sprintf("resource.disks[%d]", i)
		if boolField(ad, "boot") {
			boots++
		}
		var disk map[string]any
		if ip := objField(ad, "initializeParams"); ip != nil {
			if str(ad, "source") != "" {
				return invalid("Invalid value for field '%s': give either source or initializeParams.", at)
			}
			name := str(ip, "diskName")
			if name == "" {
				name = str(obj, "name")
				if i > 0 {
					name = fmt.Sprintf("%s-%d", name, i)
				}
			}
			coll := "projects/" + c.project + "/zones/" + c.zone + "/disks"
			if t.get(coll, name) != nil {
				return alreadyExists(coll + "/" + name)
			}
			d := map[string]any{"name": name, "kind": "compute#disk", "id": t.newID(),
				"creationTimestamp": timestamp(c.now), "zone": scopeLink(c.project, "zones", c.zone),
				"selfLink": linkBase + coll + "/" + name}
			if si := str(ip, "sourceImage"); si != "" {
				d["sourceImage"] = si
			}
			if sz, ok := intField(ip, "diskSizeGb"); ok {
				d["sizeGb"] = fmt.Sprint(sz)
			}
			if dt := str(ip, "diskType"); dt != "" {
				d["type"] = dt
			}
			if l := objField(ip, "labels"); l != nil {
				d["labels"] = l
			}
			if err := fillDisk(c, d, at+".initializeParams"); err != nil {
				return err
			}
			d["labelFingerprint"] = fingerprintOf(labelsOf(d))
			disk = d
			delete(ad, "initializeParams")
		} else if src := str(ad, "source"); src != "" {
			r, _ := parseRef(src, ref{})
			disk = copyObj(t.get(r.coll(), r.Name))
			if len(strList(disk, "users")) > 0 && str(ad, "mode") != "READ_ONLY" {
				return invalid("The disk resource '%s' is already being used by '%s'", r.path(), strings.TrimPrefix(strList(disk, "users")[0], linkBase))
			}
		} else {
			return invalid("Invalid value for field '%s': give source or initializeParams.", at)
		}
		disk["users"] = append(list(disk, "users"), str(obj, "selfLink"))
		disk["lastAttachTimestamp"] = timestamp(c.now)
		r, _ := parseRef(str(disk, "selfLink"), ref{})
		t.put(r.coll(), r.Name, disk)
		ad["kind"] = "compute#attachedDisk"
		ad["source"] = str(disk, "selfLink")
		ad["index"] = num(int64(i))
		setDefault(ad, "type", "PERSISTENT")
		setDefault(ad, "mode", "READ_WRITE")
		setDefault(ad, "deviceName", fmt.Sprintf("persistent-disk-%d", i))
		setDefault(ad, "boot", false)
		setDefault(ad, "autoDelete", false)
		setDefault(ad, "interface", "SCSI")
		ad["diskSizeGb"] = str(disk, "sizeGb")
		ad["architecture"] = "X86_64"
		if l, ok := disk["licenses"]; ok {
			ad["licenses"] = l
		}
		if g, ok := disk["guestOsFeatures"]; ok {
			ad["guestOsFeatures"] = g
		}
	}
	if boots != 1 || !boolField(disks[0].(map[string]any), "boot") {
		return invalid("Invalid value for field 'resource.disks': the first disk, and only it, must be the boot disk.")
	}
	return nil
}

// fillDisk resolves a disk's source image and sets its server-side fields.
func fillDisk(c *call, d map[string]any, at string) error {
	if si := str(d, "sourceImage"); si != "" {
		r, ok := parseRef(si, ref{Project: c.project, Collection: "images"})
		var img map[string]any
		if ok {
			img = findImage(r.Project, r.Name, r.Collection == "images/family")
		}
		if img == nil {
			return invalidValue(at+".sourceImage", si, "The referenced image resource cannot be found.")
		}
		d["sourceImage"] = str(img, "selfLink")
		d["sourceImageId"] = str(img, "id")
		d["licenses"] = img["licenses"]
		d["licenseCodes"] = img["licenseCodes"]
		d["guestOsFeatures"] = img["guestOsFeatures"]
		setDefault(d, "sizeGb", str(img, "diskSizeGb"))
	}
	setDefault(d, "sizeGb", "10")
	dt := str(d, "type")
	if dt == "" {
		dt = "pd-standard"
	}
	d["type"] = linkBase + "projects/" + c.project + "/zones/" + lastSegment(str(d, "zone")) + "/diskTypes/" + lastSegment(dt)
	d["status"] = "READY"
	d["physicalBlockSizeBytes"] = "4096"
	d["architecture"] = "X86_64"
	setDefault(d, "enableConfidentialCompute", false)
	return nil
}

func prepareDisk(t *tx, c *call, obj, old map[string]any) error {
	if old != nil {
		return nil
	}
	return fillDisk(c, obj, "resource")
}

// deleteInstanceOwned undoes what an instance holds: auto-delete disks go,
// others are detached; addresses and instance groups let go of it.
func deleteInstanceOwned(t *tx, c *call, obj map[string]any) error {
	if boolField(obj, "deletionProtection") {
		return errorf(http.StatusBadRequest, "resourceIsProtected", "Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'.")
	}
	self := str(obj, "selfLink")
	for _, d := range list(obj, "disks") {
		ad, _ := d.(map[string]any)
		r, ok := parseRef(str(ad, "source"), ref{})
		disk := t.get(r.coll(), r.Name)
		if !ok || disk == nil {
			continue
		}
		if boolField(ad, "autoDelete") {
			t.del(r.coll(), r.Name)
			continue
		}
		disk = copyObj(disk)
		var keep []string
		for _, u := range strList(disk, "users") {
			if u != self {
				keep = append(keep, u)
			}
		}
		if keep == nil {
			delete(disk, "users")
		} else {
			disk["users"] = toAnyList(keep)
		}
		disk["lastDetachTimestamp"] = timestamp(c.now)
		t.put(r.coll(), r.Name, disk)
	}
	releaseInstanceAddresses(t, c, obj)
	flagRoutesToDeletedInstance(t, c.project, self)
	groups := "projects/" + c.project + "/zones/" + c.zone + "/instanceGroups"
	for _, g := range t.list(groups) {
		members := strList(g, "__members")
		if i := indexOf(members, self); i >= 0 {
			g = copyObj(g)
			setMembers(g, append(members[:i], members[i+1:]...))
			t.put(groups, str(g, "name"), g)
		}
	}
	return nil
}

func releaseInstanceAddresses(t *tx, c *call, inst map[string]any) {
	for _, n := range list(inst, "networkInterfaces") {
		nic, _ := n.(map[string]any)
		ips := []string{str(nic, "networkIP")}
		for _, a := range list(nic, "accessConfigs") {
			ac, _ := a.(map[string]any)
			ips = append(ips, str(ac, "natIP"))
		}
		for _, ip := range ips {
			if a := addressByIP(t, c.project, c.region, ip); a != nil && indexOf(strList(a, "users"), str(inst, "selfLink")) >= 0 {
				setAddressUser(t, a, str(inst, "selfLink"), false)
			}
		}
	}
}

func checkTags(items []string) error {
	seen := map[string]bool{}
	for i, tag := range items {
		if !validName(tag) {
			return invalidValue(fmt.Sprintf("resource.tags.items[%d]", i), tag, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
		}
		if seen[tag] {
			return invalidValue("resource.tags.items", tag, "Duplicate tag.")
		}
		seen[tag] = true
	}
	return nil
}

// checkMetadata refuses duplicate, empty and long keys. The discovery
// document's Metadata.items.key allows [a-zA-Z0-9-_]+ of less than 128
// bytes; this check is looser (128 bytes and any character pass).
func checkMetadata(md map[string]any) error {
	seen := map[string]bool{}
	for i, it := range list(md, "items") {
		m, _ := it.(map[string]any)
		k := str(m, "key")
		if k == "" || len(k) > 128 || seen[k] {
			return invalidValue(fmt.Sprintf("resource.metadata.items[%d].key", i), k, "Keys are unique, 1 to 128 characters of letters, digits, '-' and '_'.")
		}
		seen[k] = true
	}
	return nil
}

func setInstanceTags(t *tx, c *call) error {
	old := t.get(c.coll, c.name)
	if old == nil {
		return notFound(c.resourcePath(c.name))
	}
	tags := objField(old, "tags")
	if str(c.body, "fingerprint") != str(tags, "fingerprint") {
		return fingerprintMismatch("tags")
	}
	items := strList(c.body, "items")
	if err := checkTags(items); err != nil {
		return err
	}
	obj := copyObj(old)
	nt := map[string]any{"fingerprint": fingerprintOf(items)}
	if len(items) > 0 {
		nt["items"] = toAnyList(items)
	}
	obj["tags"] = nt
	obj["fingerprint"] = resourceFingerprint(obj)
	t.put(c.coll, c.name, obj)
	return nil
}

func setInstanceMetadata(t *tx, c *call) error {
	old := t.get(c.coll, c.name)
	if old == nil {
		return notFound(c.resourcePath(c.name))
	}
	if str(c.body, "fingerprint") != str(objField(old, "metadata"), "fingerprint") {
		return fingerprintMismatch("metadata")
	}
	md := copyObj(c.body)
	if err := checkMetadata(md); err != nil {
		return err
	}
	md["kind"] = "compute#metadata"
	md["fingerprint"] = fingerprintOf(list(md, "items"))
	obj := copyObj(old)
	obj["metadata"] = md
	obj["fingerprint"] = resourceFingerprint(obj)
	t.put(c.coll, c.name, obj)
	return nil
}

// setInstanceRunning serves stop and start. A stopped instance gives its
// ephemeral external addresses back and gets new ones when it starts, as on GCE.
func setInstanceRunning(running bool) func(t *tx, c *call) error {
	return func(t *tx, c *call) error {
		old := t.get(c.coll, c.name)
		if old == nil {
			return notFound(c.resourcePath(c.name))
		}
		obj := copyObj(old)
		if running == (str(obj, "status") == "RUNNING") {
			return nil
		}
		for _, ac := range accessConfigs(obj) {
			ip := str(ac, "natIP")
			reserved := ip != "" && addressByIP(t, c.project, c.region, ip) != nil
			switch {
			case !running && !reserved:
				delete(ac, "natIP")
			case running && ip == "":
				nip, err := c.s.allocateExternal(t)
				if err != nil {
					return err
				}
				ac["natIP"] = nip
			}
		}
		if running {
			obj["status"] = "RUNNING"
			obj["lastStartTimestamp"] = timestamp(c.now)
		} else {
			obj["status"] = "TERMINATED"
			obj["lastStopTimestamp"] = timestamp(c.now)
		}
		obj["fingerprint"] = resourceFingerprint(obj)
		t.put(c.coll, c.name, obj)
		return nil
	}
}

func prepareInstanceGroup(t *tx, c *call, obj, old map[string]any) error {
	if old != nil {
		obj["__members"] = old["__members"]
	}
	setMembers(obj, strList(obj, "__members"))
	if s := str(obj, "subnetwork"); s != "" && str(obj, "network") == "" {
		r, _ := parseRef(s, ref{})
		obj["network"] = str(t.get(r.coll(), r.Name), "network")
	}
	for i, np := range list(obj, "namedPorts") {
		m, _ := np.(map[string]any)
		if p, ok := intField(m, "port"); !ok || p < 1 || p > 65535 || str(m, "name") == "" {
			return invalidValue(fmt.Sprintf("resource.namedPorts[%d]", i), jsonText(m), "A named port has a name and a port from 1 to 65535.")
		}
	}
	return nil
}

func setMembers(g map[string]any, members []string) {
	if len(members) == 0 {
		delete(g, "__members")
	} else {
		g["__members"] = toAnyList(members)
	}
	g["size"] = num(int64(len(members)))
	g["fingerprint"] = resourceFingerprint(g)
}

func groupMembers(add bool) func(t *tx, c *call) error {
	return func(t *tx, c *call) error {
		old := t.get(c.coll, c.name)
		if old == nil {
			return notFound(c.resourcePath(c.name))
		}
		g := copyObj(old)
		members := strList(g, "__members")
		for i, it := range list(c.body, "instances") {
			m, _ := it.(map[string]any)
			at := fmt.Sprintf("instances[%d].instance", i)
			r, ok := parseRef(str(m, "instance"), c.def("instances"))
			if !ok || r.Collection != "instances" {
				return invalidValue(at, str(m, "instance"), "The URL is malformed.")
			}
			link := r.link()
			idx := indexOf(members, link)
			if !add {
				if idx < 0 {
					return errorf(http.StatusBadRequest, "memberNotFound", "The resource '%s' is not a member of '%s'", r.path(), c.resourcePath(c.name))
				}
				members = append(members[:idx], members[idx+1:]...)
				continue
			}
			if idx >= 0 {
				return errorf(http.StatusBadRequest, "memberAlreadyExists", "The resource '%s' is already a member of '%s'", r.path(), c.resourcePath(c.name))
			}
			inst := t.get(r.coll(), r.Name)
			if inst == nil {
				return invalidValue(at, str(m, "instance"), "The referenced instance resource cannot be found.")
			}
			if r.Zone != c.zone {
				return invalidValue(at, str(m, "instance"), "The instance must be in the group's zone "+c.zone+".")
			}
			nic := firstNIC(inst)
			if nw := str(g, "network"); nw != "" && str(nic, "network") != nw {
				return invalidValue(at, str(m, "instance"), "The instance is not on the group's network.")
			}
			// A group takes the network and subnetwork of its first member:
			// one created with a network only answers a subnetwork too once
			// it has members (as recorded against the API).
			setDefault(g, "network", str(nic, "network"))
			setDefault(g, "subnetwork", str(nic, "subnetwork"))
			members = append(members, link)
		}
		setMembers(g, members)
		t.put(c.coll, c.name, g)
		return nil
	}
}

func setNamedPorts(t *tx, c *call) error {
	old := t.get(c.coll, c.name)
	if old == nil {
		return notFound(c.resourcePath(c.name))
	}
	if fp := str(c.body, "fingerprint"); fp != "" && fp != str(old, "fingerprint") {
		return fingerprintMismatch("instance group")
	}
	g := copyObj(old)
	if np := list(c.body, "namedPorts"); len(np) > 0 {
		g["namedPorts"] = deepCopy(np)
	} else {
		delete(g, "namedPorts")
	}
	if err := prepareInstanceGroup(t, c, g, old); err != nil {
		return err
	}
	t.put(c.coll, c.name, g)
	return nil
}

func listGroupInstances(c *call) (any, error) {
	lp, err := parseListParams(c)
	if err != nil {
		return nil, err
	}
	state := str(c.body, "instanceState")
	if state != "" && state != "ALL" && state != "RUNNING" {
		return nil, invalidValue("instanceState", state, "Must be ALL or RUNNING.")
	}
	c.s.st.mu.RLock()
	defer c.s.st.mu.RUnlock()
	g := c.s.st.get(c.coll, c.name)
	if g == nil {
		return nil, notFound(c.resourcePath(c.name))
	}
	var items []map[string]any
	for _, m := range strList(g.obj, "__members") {
		r, _ := parseRef(m, ref{})
		status := "TERMINATED"
		if e := c.s.st.get(r.coll(), r.Name); e != nil {
			status = str(e.obj, "status")
		}
		if state == "RUNNING" && status != "RUNNING" {
			continue
		}
		// Items are InstanceWithNamedPorts: each carries the group's named ports.
		it := map[string]any{"instance": m, "status": status}
		if np := list(g.obj, "namedPorts"); len(np) > 0 {
			it["namedPorts"] = np
		}
		if lp.filter.Match(it) {
			items = append(items, it)
		}
	}
	// The recorded answers carry neither id nor selfLink (fixtures/gcp-http-logs, computeinstancegroup).
	out := map[string]any{"kind": "compute#instanceGroupsListInstances"}
	if lp.offset < len(items) {
		end := min(lp.offset+lp.max, len(items))
		out["items"] = items[lp.offset:end]
		if end < len(items) {
			out["nextPageToken"] = pageToken(end)
		}
	}
	return out, nil
}

// flagRoutesToDeletedInstance marks the routes whose next hop was the
// instance, as the API does: the route stays, with a
// NEXT_HOP_INSTANCE_NOT_FOUND warning, and carries no traffic.
func flagRoutesToDeletedInstance(t *tx, project, instance string) {
	coll := "projects/" + project + "/global/routes"
	for _, r := range t.list(coll) {
		if str(r, "nextHopInstance") != instance {
			continue
		}
		r = copyObj(r)
		r["warnings"] = []any{map[string]any{"code": "NEXT_HOP_INSTANCE_NOT_FOUND",
			"message": "Next hop instance '" + instance + "' does not exist.",
			"data":    []any{map[string]any{"key": "instance", "value": instance}}}}
		t.put(coll, str(r, "name"), r)
	}
}

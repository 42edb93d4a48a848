package fakegce

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strings"
	"time"
)

// catalog is the part of the API that describes the cloud rather than the
// project's resources: the project itself, regions, zones, machine types and
// public images. It is fixed by the Config.
type catalog struct {
	cfg *Config
}

func newCatalog(cfg *Config) *catalog { return &catalog{cfg: cfg} }

// catalogEpoch is the creationTimestamp of everything in the catalog.
var catalogEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// projectNumber is a stable 12-digit number for a project id.
func projectNumber(project string) string {
	h := fnv.New64a()
	h.Write([]byte(project))
	return fmt.Sprintf("%012d", h.Sum64()%900000000000+100000000000)
}

func stableID(s string) string {
	h := fnv.New64a()
	h.Write([]byte(s))
	return fmt.Sprintf("%d", h.Sum64()%9000000000000000000+1000000000000000000)
}

func (k *catalog) hasProject(p string) bool { return contains(k.cfg.Projects, p) }

// projectOfNumber is the id of the project whose number is n, or n itself.
func (k *catalog) projectOfNumber(n string) string {
	for _, p := range k.cfg.Projects {
		if projectNumber(p) == n {
			return p
		}
	}
	return n
}

func (k *catalog) hasRegion(r string) bool { return contains(k.cfg.Regions, r) }

func (k *catalog) hasZone(z string) bool { return contains(k.cfg.Zones, z) }

func (k *catalog) zonesOf(region string) []string {
	var out []string
	for _, z := range k.cfg.Zones {
		if regionOfZone(z, k.cfg.Regions) == region {
			out = append(out, z)
		}
	}
	return out
}

// checkScope answers 404 for a project, region or zone the fake does not have.
func (k *catalog) checkScope(m *apiMethod, project, region, zone string) error {
	if project != "" && !k.hasProject(project) {
		if !(m.Resource == "images" && publicImages[project] != nil) {
			return notFound("projects/" + project)
		}
	}
	if region != "" && !k.hasRegion(region) {
		return notFound("projects/" + project + "/regions/" + region)
	}
	if zone != "" && !k.hasZone(zone) {
		return notFound("projects/" + project + "/zones/" + zone)
	}
	return nil
}

// scopesOf lists the scopes an aggregated list of collection covers, from the
// discovery document: "global" when the API has a global collection of that
// name, every region when it has a regional one, every zone when zonal.
func (k *catalog) scopesOf(rt *router, collection string) []string {
	var global, regional, zonal bool
	for _, m := range rt.byID {
		if m.Verb != "list" {
			continue
		}
		segs := m.segments
		for i := 0; i < len(segs); i++ {
			if segs[i].literal == collection && i >= 2 {
				switch segs[i-1].literal {
				case "global":
					global = true
				}
				if i >= 3 && segs[i-1].param == "region" {
					regional = true
				}
				if i >= 3 && segs[i-1].param == "zone" {
					zonal = true
				}
			}
		}
	}
	var out []string
	if global {
		out = append(out, "global")
	}
	if regional {
		for _, r := range k.cfg.Regions {
			out = append(out, "regions/"+r)
		}
	}
	if zonal {
		for _, z := range k.cfg.Zones {
			out = append(out, "zones/"+z)
		}
	}
	return out
}

func (k *catalog) region(project, name string) map[string]any {
	var zones []any
	for _, z := range k.zonesOf(name) {
		zones = append(zones, scopeLink(project, "zones", z))
	}
	return map[string]any{
		"kind": "compute#region", "id": stableID("region/" + name), "name": name, "description": name,
		"creationTimestamp": timestamp(catalogEpoch), "status": "UP", "zones": zones,
		"selfLink": scopeLink(project, "regions", name), "supportsPzs": false,
	}
}

func (k *catalog) zone(project, name string) map[string]any {
	return map[string]any{
		"kind": "compute#zone", "id": stableID("zone/" + name), "name": name, "description": name,
		"creationTimestamp": timestamp(catalogEpoch), "status": "UP",
		"region":   scopeLink(project, "regions", regionOfZone(name, k.cfg.Regions)),
		"selfLink": scopeLink(project, "zones", name), "supportsPzs": false,
		"availableCpuPlatforms": []any{"Intel Broadwell", "Intel Cascade Lake", "AMD Milan"},
	}
}

type machineType struct {
	cpus   int64
	memMB  int64
	shared bool
}

var machineTypes = map[string]machineType{
	"e2-micro": {2, 1024, true}, "e2-small": {2, 2048, true}, "e2-medium": {2, 4096, true},
	"e2-standard-2": {2, 8192, false}, "e2-standard-4": {4, 16384, false}, "e2-standard-8": {8, 32768, false},
	"n1-standard-1": {1, 3840, false}, "n1-standard-2": {2, 7680, false}, "n1-standard-4": {4, 15360, false},
	"n2-standard-2": {2, 8192, false}, "n2-standard-4": {4, 16384, false}, "n2-standard-8": {8, 32768, false},
	"c3-standard-4": {4, 16384, false},
}

func (k *catalog) machineType(project, zone, name string) map[string]any {
	mt, ok := machineTypes[name]
	if !ok {
		return nil
	}
	return map[string]any{
		"kind": "compute#machineType", "id": stableID("machineType/" + name), "name": name,
		"description":       fmt.Sprintf("%d vCPUs, %d GB RAM", mt.cpus, mt.memMB/1024),
		"creationTimestamp": timestamp(catalogEpoch), "guestCpus": num(mt.cpus), "memoryMb": num(mt.memMB),
		"imageSpaceGb": num(0), "maximumPersistentDisks": num(128), "maximumPersistentDisksSizeGb": "263168",
		"zone": zone, "isSharedCpu": mt.shared, "architecture": "X86_64",
		"selfLink": linkBase + "projects/" + project + "/zones/" + zone + "/machineTypes/" + name,
	}
}

// publicImages are the image projects the fake serves, by family.
var publicImages = map[string]map[string]string{
	"debian-cloud":    {"debian-11": "debian-11-bullseye-v20261110", "debian-12": "debian-12-bookworm-v20261110"},
	"ubuntu-os-cloud": {"ubuntu-2204-lts": "ubuntu-2204-jammy-v20261110", "ubuntu-2404-lts-amd64": "ubuntu-2404-noble-amd64-v20261110"},
	"cos-cloud":       {"cos-stable": "cos-stable-121-18867-0-94"},
}

func image(project, family, name string) map[string]any {
	license := linkBase + "projects/" + project + "/global/licenses/" + family
	// Public images carry the label public-image=true, and a numeric code per
	// licence that disks made from them inherit.
	labels := map[string]any{"public-image": "true"}
	return map[string]any{
		"kind": "compute#image", "id": stableID("image/" + name), "name": name, "family": family,
		"description": family + " image built " + name[len(name)-8:], "creationTimestamp": timestamp(catalogEpoch),
		"selfLink": linkBase + "projects/" + project + "/global/images/" + name, "sourceType": "RAW", "status": "READY",
		"archiveSizeBytes": "1000000000", "diskSizeGb": "10", "architecture": "X86_64",
		"licenses":         []any{license},
		"licenseCodes":     []any{stableID(license)},
		"guestOsFeatures":  []any{map[string]any{"type": "UEFI_COMPATIBLE"}, map[string]any{"type": "VIRTIO_SCSI_MULTIQUEUE"}, map[string]any{"type": "GVNIC"}},
		"storageLocations": []any{"us"}, "labels": labels, "labelFingerprint": fingerprintOf(labels),
		"rawDisk":                   map[string]any{"containerType": "TAR", "source": ""},
		"enableConfidentialCompute": false,
	}
}

// findImage resolves an image reference (by name or family) to its resource.
func findImage(project, name string, family bool) map[string]any {
	fams := publicImages[project]
	for fam, img := range fams {
		if (family && fam == name) || (!family && img == name) {
			return image(project, fam, img)
		}
	}
	return nil
}

func catalogList(c *call, kind string, items []map[string]any) (any, error) {
	lp, err := parseListParams(c)
	if err != nil {
		return nil, err
	}
	var sel []any
	for _, it := range items {
		if lp.filter.Match(it) {
			sel = append(sel, it)
		}
	}
	out := map[string]any{"kind": kind, "id": c.coll, "selfLink": linkBase + c.coll}
	if lp.offset < len(sel) {
		end := min(lp.offset+lp.max, len(sel))
		out["items"] = sel[lp.offset:end]
		if end < len(sel) {
			out["nextPageToken"] = pageToken(end)
		}
	}
	return out, nil
}

func init() {
	specialHandlers["compute.projects.get"] = handler{read: func(c *call) (any, error) { return c.s.project(c.project), nil }}
	specialHandlers["compute.regions.get"] = handler{read: func(c *call) (any, error) {
		return c.s.cat.region(c.project, c.region), nil
	}}
	specialHandlers["compute.regions.list"] = handler{read: func(c *call) (any, error) {
		var items []map[string]any
		for _, r := range c.s.cfg.Regions {
			items = append(items, c.s.cat.region(c.project, r))
		}
		c.coll = "projects/" + c.project + "/regions"
		return catalogList(c, "compute#regionList", items)
	}}
	specialHandlers["compute.zones.get"] = handler{read: func(c *call) (any, error) {
		return c.s.cat.zone(c.project, c.zone), nil
	}}
	specialHandlers["compute.zones.list"] = handler{read: func(c *call) (any, error) {
		var items []map[string]any
		for _, z := range c.s.cfg.Zones {
			items = append(items, c.s.cat.zone(c.project, z))
		}
		c.coll = "projects/" + c.project + "/zones"
		return catalogList(c, "compute#zoneList", items)
	}}
	specialHandlers["compute.machineTypes.get"] = handler{read: func(c *call) (any, error) {
		if mt := c.s.cat.machineType(c.project, c.zone, c.name); mt != nil {
			return mt, nil
		}
		return nil, notFound(c.resourcePath(c.name))
	}}
	specialHandlers["compute.machineTypes.list"] = handler{read: func(c *call) (any, error) {
		var names []string
		for n := range machineTypes {
			names = append(names, n)
		}
		sort.Strings(names)
		var items []map[string]any
		for _, n := range names {
			items = append(items, c.s.cat.machineType(c.project, c.zone, n))
		}
		return catalogList(c, "compute#machineTypeList", items)
	}}
	specialHandlers["compute.images.get"] = handler{read: imageGet(false)}
	specialHandlers["compute.images.getFromFamily"] = handler{read: imageGet(true)}
}

func imageGet(family bool) func(c *call) (any, error) {
	return func(c *call) (any, error) {
		name := c.name
		if family {
			name = c.params["family"]
		}
		if publicImages[c.project] == nil {
			if family {
				return nil, notFound("projects/" + c.project + "/global/images/family/" + name)
			}
			return genericGet(c)
		}
		if img := findImage(c.project, name, family); img != nil {
			return img, nil
		}
		if family {
			return nil, notFound("projects/" + c.project + "/global/images/family/" + name)
		}
		return nil, notFound(c.resourcePath(name))
	}
}

// quotaMetrics maps collections to the quota metric that counts them.
var quotaMetrics = map[string]string{
	"firewalls": "FIREWALLS", "routes": "ROUTES", "networks": "NETWORKS", "subnetworks": "SUBNETWORKS",
	"forwardingRules": "FORWARDING_RULES", "targetPools": "TARGET_POOLS", "httpHealthChecks": "HEALTH_CHECKS",
	"healthChecks": "HEALTH_CHECKS", "backendServices": "BACKEND_SERVICES", "addresses": "STATIC_ADDRESSES",
	"instances": "INSTANCES", "instanceGroups": "INSTANCE_GROUPS",
}

// quotaUsage counts the resources a metric covers: in the project for global
// collections, in the region for regional and zonal ones.
func quotaUsage(t *tx, project, region, metric string) int64 {
	var n int64
	for coll, m := range quotaMetrics {
		if m != metric {
			continue
		}
		for _, o := range t.listAll(project, coll) {
			if region == "" || strings.HasSuffix(str(o, "region"), "/regions/"+region) ||
				regionOfZoneLink(str(o, "zone")) == region {
				n++
			}
		}
	}
	return n
}

func regionOfZoneLink(zoneLink string) string {
	z := lastSegment(zoneLink)
	if i := strings.LastIndexByte(z, '-'); i > 0 {
		return z[:i]
	}
	return ""
}

func (s *Server) checkQuota(t *tx, c *call) error {
	metric := quotaMetrics[c.kind.collection]
	limit, ok := s.cfg.Quotas[metric]
	if metric == "" || !ok {
		return nil
	}
	where := "globally"
	region := ""
	if c.region != "" {
		region = c.region
		where = "in region " + region
	}
	if quotaUsage(t, c.project, region, metric) >= limit {
		return errorf(http.StatusForbidden, "quotaExceeded", "Quota '%s' exceeded.  Limit: %d.0 %s.", metric, limit, where)
	}
	return nil
}

func (s *Server) project(p string) map[string]any {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	t := s.st.begin()
	var quotas []any
	var metrics []string
	for m := range s.cfg.Quotas {
		metrics = append(metrics, m)
	}
	sort.Strings(metrics)
	for _, m := range metrics {
		quotas = append(quotas, map[string]any{"metric": m, "limit": json.Number(fmt.Sprint(s.cfg.Quotas[m])), "usage": num(quotaUsage(t, p, "", m))})
	}
	num := projectNumber(p)
	out := map[string]any{
		"kind": "compute#project", "id": num, "name": p, "creationTimestamp": timestamp(catalogEpoch),
		"selfLink":              linkBase + "projects/" + p,
		"defaultServiceAccount": num + "-compute@developer.gserviceaccount.com",
		"defaultNetworkTier":    "PREMIUM", "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
		"commonInstanceMetadata": map[string]any{"kind": "compute#metadata", "fingerprint": fingerprintOf([]any{})},
	}
	if len(quotas) > 0 {
		out["quotas"] = quotas
	}
	return out
}

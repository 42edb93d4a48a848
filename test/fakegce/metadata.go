package fakegce

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// The metadata server: the part of /computeMetadata/v1/ that Kubernetes
// components and cloud.google.com/go/compute/metadata read (with
// GCE_METADATA_HOST pointing here). The current instance is Config.MetadataInstance,
// read live from the store, so its tags, addresses and metadata follow the API.

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	w.Header().Set("Server", "Metadata Server for VM")
	if r.Header.Get("Metadata-Flavor") != "Google" && r.Header.Get("X-Google-Metadata-Request") != "True" {
		http.Error(w, "Missing required header: Metadata-Flavor", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1"), "/")
	tree := s.metadataTree()
	node := any(tree)
	for _, part := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if part == "" {
			continue
		}
		dir, ok := node.(map[string]any)
		if !ok {
			node = nil
			break
		}
		node, ok = dir[part]
		if !ok {
			node = nil
			break
		}
	}
	if node == nil {
		http.Error(w, "Not Found: the metadata server has no "+r.URL.Path, http.StatusNotFound)
		return
	}
	recursive := r.URL.Query().Get("recursive") == "true"
	alt := r.URL.Query().Get("alt")
	switch v := node.(type) {
	case string:
		if alt == "json" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
			return
		}
		w.Header().Set("Content-Type", "application/text")
		w.Write([]byte(v))
	case json.RawMessage:
		w.Header().Set("Content-Type", "application/json")
		w.Write(v)
	case []any:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	case map[string]any:
		if recursive || alt == "json" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(camelTree(v))
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/") && p != "" {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		keys := make([]string, 0, len(v))
		for k, e := range v {
			if _, dir := e.(map[string]any); dir {
				k += "/"
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.Header().Set("Content-Type", "application/text")
		w.Write([]byte(strings.Join(keys, "\n") + "\n"))
	}
}

// metadataToken is the access token the metadata server hands out: the one
// the API requires, when it requires one and Config.ServeMetadataToken allows
// handing it out (anyone who reaches the port could read it there). ok is
// false when there is none to hand out.
func (s *Server) metadataToken() (token string, ok bool) {
	switch {
	case s.cfg.RequireToken == "":
		return "fake-gce-token", true
	case s.cfg.ServeMetadataToken:
		return s.cfg.RequireToken, true
	}
	return "", false
}

func (s *Server) metadataTree() map[string]any {
	project := s.cfg.Projects[0]
	number := projectNumber(project)
	email := number + "-compute@developer.gserviceaccount.com"
	tree := map[string]any{
		"project": map[string]any{
			"project-id":         project,
			"numeric-project-id": number,
			"attributes":         map[string]any{},
		},
	}
	account := map[string]any{
		"email":   email,
		"aliases": "default\n",
		"scopes":  "https://www.googleapis.com/auth/cloud-platform\n",
	}
	if token, ok := s.metadataToken(); ok {
		account["token"] = tokenJSON(token)
	}
	accounts := map[string]any{"default": account}
	inst := s.currentInstance()
	if inst == nil {
		// Without a current instance the server still hands out the default
		// service account's token, which is what most clients come for.
		tree["instance"] = map[string]any{"service-accounts": accounts}
		return tree
	}
	zone := lastSegment(str(inst, "zone"))
	name := str(inst, "name")
	attrs := map[string]any{}
	for _, it := range list(objField(inst, "metadata"), "items") {
		if m, ok := it.(map[string]any); ok {
			attrs[str(m, "key")] = str(m, "value")
		}
	}
	var nics = map[string]any{}
	for i, n := range list(inst, "networkInterfaces") {
		nic, _ := n.(map[string]any)
		acs := map[string]any{}
		for j, a := range list(nic, "accessConfigs") {
			ac, _ := a.(map[string]any)
			acs[itoa(j)] = map[string]any{"external-ip": str(ac, "natIP"), "type": str(ac, "type")}
		}
		nics[itoa(i)] = map[string]any{
			"ip":             str(nic, "networkIP"),
			"network":        "projects/" + number + "/networks/" + lastSegment(str(nic, "network")),
			"mac":            "42:01:0a:00:00:" + twoHex(i+2),
			"access-configs": acs,
		}
	}
	tags := []any{}
	for _, t := range list(objField(inst, "tags"), "items") {
		tags = append(tags, t)
	}
	tree["instance"] = map[string]any{
		"id":                 str(inst, "id"),
		"name":               name,
		"hostname":           name + "." + zone + ".c." + project + ".internal",
		"zone":               "projects/" + number + "/zones/" + zone,
		"machine-type":       "projects/" + number + "/machineTypes/" + lastSegment(str(inst, "machineType")),
		"tags":               tags,
		"attributes":         attrs,
		"network-interfaces": nics,
		"service-accounts":   accounts,
	}
	return tree
}

func tokenJSON(token string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
	return b
}

func (s *Server) currentInstance() map[string]any {
	if s.cfg.MetadataInstance == "" {
		return nil
	}
	zone, name, _ := strings.Cut(s.cfg.MetadataInstance, "/")
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	e := s.st.get("projects/"+s.cfg.Projects[0]+"/zones/"+zone+"/instances", name)
	if e == nil {
		return nil
	}
	return e.obj
}

// camelTree renders a directory as the recursive JSON form, which uses
// camelCase keys (network-interfaces -> networkInterfaces), and lists for
// numbered directories.
func camelTree(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if isIndexed(t) {
			out := make([]any, len(t))
			for i := range out {
				out[i] = camelTree(t[itoa(i)])
			}
			return out
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[camel(k)] = camelTree(e)
		}
		return out
	case json.RawMessage:
		var m any
		json.Unmarshal(t, &m)
		return m
	}
	return v
}

func isIndexed(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if _, ok := m[itoa(i)]; !ok {
			return false
		}
	}
	return true
}

func camel(k string) string {
	parts := strings.Split(k, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			r := []rune(parts[i])
			r[0] = unicode.ToUpper(r[0])
			parts[i] = string(r)
		}
	}
	return strings.Join(parts, "")
}

func itoa(i int) string { return strconv.Itoa(i) }

func twoHex(i int) string {
	const hex = "0123456789abcdef"
	return string([]byte{hex[(i>>4)&15], hex[i&15]})
}

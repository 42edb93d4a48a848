package fakegce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// pendingColl holds the operations that are not DONE yet, with the request
// that will run when they complete. They live in the store, so a restart from
// the state file completes them.
const pendingColl = "__pending"

// waitLimit is how long operations.wait blocks before it answers with the
// operation as it is (the API documents "about 2 minutes").
var waitLimit = 2 * time.Minute

func timestamp(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-07:00") }

func (c *call) opColl() string {
	switch {
	case c.zone != "":
		return "projects/" + c.project + "/zones/" + c.zone + "/operations"
	case c.region != "" && c.m.Resource != "networks" && c.m.Resource != "firewalls":
		return "projects/" + c.project + "/regions/" + c.region + "/operations"
	}
	return "projects/" + c.project + "/global/operations"
}

// doneAtOnce are the methods whose operations the real API answers DONE in
// the first answer, never polled: an address's and a forwarding rule's
// setLabels (fixtures/gcp-http-logs, computeforwardingrule) and an instance
// group's addInstances (computeinstancegroup).
var doneAtOnce = map[string]bool{
	"compute.addresses.setLabels":         true,
	"compute.forwardingRules.setLabels":   true,
	"compute.instanceGroups.addInstances": true,
}

// mutate runs a mutation as an operation. With no operation latency, or for
// a method in doneAtOnce, it is applied at once and the operation answers
// DONE; otherwise it is checked now (a 4xx answers at once) and applied when
// the operation completes.
func (s *Server) mutate(r *http.Request, c *call, mu *mutation, failure *apiError) (any, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	requestID := c.query.Get("requestId")
	if requestID != "" {
		if key := s.findRequest(c.project, requestID); key != "" {
			if op := s.st.get(opCollOf(key), lastSegment(key)); op != nil {
				return s.renderOp(op.obj), nil
			}
		}
	}
	targetName := c.name
	if c.m.Verb == "insert" {
		targetName = str(c.body, "name")
		c.resourceID = s.st.nextID()
	}
	targetID := c.resourceID
	if c.m.Verb != "insert" && c.coll != "" {
		if e := s.st.get(c.coll, targetName); e != nil {
			targetID = str(e.obj, "id")
		}
	}
	op := map[string]any{
		"kind":          "compute#operation",
		"id":            s.st.nextID(),
		"name":          fmt.Sprintf("operation-%d-%s", c.now.UnixMilli(), s.st.nextID()[:13]),
		"operationType": operationType(c.m, mu),
		"targetLink":    c.link(targetName),
		"user":          "fake-gce@" + c.project + ".iam.gserviceaccount.com",
		"insertTime":    timestamp(c.now),
		"startTime":     timestamp(c.now),
		"status":        "DONE",
		"progress":      num(100),
	}
	if targetID != "" {
		op["targetId"] = targetID
	}
	if requestID != "" {
		// The API echoes a requestId as the operation's clientOperationId.
		op["clientOperationId"] = requestID
		op["__requestId"] = requestID
	}
	opColl := c.opColl()
	op["selfLink"] = linkBase + opColl + "/" + str(op, "name")
	if c.zone != "" {
		op["zone"] = scopeLink(c.project, "zones", c.zone)
	} else if opColl != "projects/"+c.project+"/global/operations" {
		op["region"] = scopeLink(c.project, "regions", c.region)
	}

	t := s.st.begin()
	if err := runMutation(t, c, mu, failure); err != nil {
		e, ok := err.(*apiError)
		if !ok || !e.inOperation {
			return nil, err
		}
		// Accepted: the operation ends with the error, and what the
		// mutation did before it failed is discarded.
		failure, t = e, s.st.begin()
	}
	if s.cfg.OpLatency <= 0 || doneAtOnce[c.m.ID] {
		if failure != nil {
			t = s.st.begin()
			failOp(op, failure)
		}
		op["endTime"] = timestamp(time.Now())
		t.put(opColl, str(op, "name"), op)
		if err := t.commit(); err != nil {
			return nil, err
		}
		return s.renderOp(op), nil
	}
	// Accepted: the check above is discarded; the operation runs it again when
	// due. The real API's first answer is RUNNING, progress 0, with a
	// startTime (every mutation in fixtures/gcp-http-logs).
	t = s.st.begin()
	op["status"] = "RUNNING"
	op["progress"] = num(0)
	due := c.now.Add(s.cfg.OpLatency)
	p := map[string]any{
		"method":     c.m.ID,
		"params":     stringMapToAny(c.params),
		"query":      c.query.Encode(),
		"body":       c.body,
		"resourceId": c.resourceID,
		"now":        c.now.Format(time.RFC3339Nano),
		"due":        strconv.FormatInt(due.UnixNano(), 10),
		"op":         opColl + "/" + str(op, "name"),
	}
	if failure != nil {
		p["fail"] = map[string]any{"code": num(int64(failure.Code)), "reason": failure.Reason, "message": failure.Message}
	}
	t.put(opColl, str(op, "name"), op)
	t.put(pendingColl, opColl+"/"+str(op, "name"), p)
	if err := t.commit(); err != nil {
		return nil, err
	}
	s.ops.schedule(due)
	return s.renderOp(op), nil
}

func runMutation(t *tx, c *call, mu *mutation, failure *apiError) error {
	if failure != nil {
		return nil
	}
	return mu.apply(t, c)
}

func failOp(op map[string]any, e *apiError) {
	op["error"] = map[string]any{"errors": []any{map[string]any{"code": operationErrorCode(e.Reason), "message": e.Message}}}
	op["httpErrorStatusCode"] = num(int64(e.Code))
	op["httpErrorMessage"] = http.StatusText(e.Code)
}

// operationErrorCodes spell an HTTP error reason the way an operation's
// error.errors[].code does: the API answers a request with "alreadyExists" but
// ends an operation with "RESOURCE_ALREADY_EXISTS".
var operationErrorCodes = map[string]string{
	"alreadyExists":                  "RESOURCE_ALREADY_EXISTS",
	"notFound":                       "RESOURCE_NOT_FOUND",
	"resourceInUseByAnotherResource": "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
	"invalid":                        "INVALID_FIELD_VALUE",
	"backendError":                   "INTERNAL_ERROR",
	"internalError":                  "INTERNAL_ERROR",
}

// operationErrorCode is the operation error code for a reason: a known one
// from operationErrorCodes, otherwise the reason in upper snake case
// (quotaExceeded -> QUOTA_EXCEEDED); a code already in that form is kept.
func operationErrorCode(reason string) string {
	if code, ok := operationErrorCodes[reason]; ok {
		return code
	}
	var b strings.Builder
	for i, r := range reason {
		if unicode.IsUpper(r) && i > 0 && !unicode.IsUpper(rune(reason[i-1])) && reason[i-1] != '_' {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func opCollOf(key string) string {
	if i := len(key) - len(lastSegment(key)) - 1; i > 0 {
		return key[:i]
	}
	return ""
}

func (s *Server) findRequest(project, requestID string) string {
	return s.st.operationFor(project, requestID)
}

func stringMapToAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// renderOp shows an operation as a client sees it now.
func (s *Server) renderOp(op map[string]any) []byte { return newEntry(op).raw }

// opRunner completes operations when they are due: lazily at the start of
// every request, and from a timer so that state changes without polling too.
type opRunner struct {
	s       *Server
	nextDue atomic.Int64 // unix nanos of the earliest pending operation; 0 for none
	wake    chan struct{}
	quit    chan struct{}
	once    sync.Once
	doneMu  sync.Mutex
	doneCh  chan struct{} // closed and replaced whenever operations complete
}

func newOpRunner(s *Server) *opRunner {
	r := &opRunner{s: s, wake: make(chan struct{}, 1), quit: make(chan struct{}), doneCh: make(chan struct{})}
	s.st.mu.Lock()
	r.recompute()
	s.st.mu.Unlock()
	go r.loop()
	return r
}

func (r *opRunner) stop() { r.once.Do(func() { close(r.quit) }) }

func (r *opRunner) schedule(due time.Time) {
	for {
		cur := r.nextDue.Load()
		if cur != 0 && cur <= due.UnixNano() {
			break
		}
		if r.nextDue.CompareAndSwap(cur, due.UnixNano()) {
			break
		}
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *opRunner) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d := time.Hour
		if due := r.nextDue.Load(); due != 0 {
			d = time.Until(time.Unix(0, due))
		}
		timer.Reset(max(d, 0))
		select {
		case <-r.quit:
			return
		case <-r.wake:
		case <-timer.C:
			r.advance()
		}
	}
}

// advance completes every operation that is due.
func (r *opRunner) advance() {
	due := r.nextDue.Load()
	if due == 0 || time.Now().UnixNano() < due {
		return
	}
	r.s.st.mu.Lock()
	completed := r.completeDue()
	r.recompute()
	r.s.st.mu.Unlock()
	if completed {
		r.doneMu.Lock()
		close(r.doneCh)
		r.doneCh = make(chan struct{})
		r.doneMu.Unlock()
	}
}

// changed returns a channel closed the next time operations complete.
func (r *opRunner) changed() <-chan struct{} {
	r.doneMu.Lock()
	defer r.doneMu.Unlock()
	return r.doneCh
}

// recompute sets nextDue from the pending operations. Callers hold the store lock.
func (r *opRunner) recompute() {
	var next int64
	for _, e := range r.s.st.colls[pendingColl] {
		d, _ := strconv.ParseInt(str(e.obj, "due"), 10, 64)
		if next == 0 || d < next {
			next = d
		}
	}
	r.nextDue.Store(next)
}

func (r *opRunner) completeDue() bool {
	now := time.Now().UnixNano()
	type item struct {
		key string
		due int64
		p   map[string]any
	}
	var items []item
	for name, e := range r.s.st.colls[pendingColl] {
		d, _ := strconv.ParseInt(str(e.obj, "due"), 10, 64)
		if d <= now {
			items = append(items, item{name, d, e.obj})
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].due != items[j].due {
			return items[i].due < items[j].due
		}
		return items[i].key < items[j].key
	})
	for _, it := range items {
		r.complete(it.key, it.p)
	}
	return len(items) > 0
}

// complete runs a pending operation's request and marks the operation DONE,
// with an error when the request fails now.
func (r *opRunner) complete(key string, p map[string]any) {
	s := r.s
	opKey := str(p, "op")
	opObj := s.st.get(opCollOf(opKey), lastSegment(opKey))
	t := s.st.begin()
	var failure *apiError
	if f := objField(p, "fail"); f != nil {
		code, _ := intField(f, "code")
		failure = &apiError{Code: int(code), Reason: str(f, "reason"), Message: str(f, "message")}
	} else if c, mu, err := s.rebuildCall(p); err != nil {
		failure = asAPIError(err)
	} else if err := mu.apply(t, c); err != nil {
		failure = asAPIError(err)
	}
	if failure != nil {
		t = s.st.begin()
	}
	if opObj != nil {
		op := copyObj(opObj.obj)
		op["status"] = "DONE"
		op["progress"] = num(100)
		op["endTime"] = timestamp(time.Now())
		if failure != nil {
			failOp(op, failure)
		}
		t.put(opCollOf(opKey), lastSegment(opKey), op)
	}
	t.del(pendingColl, key)
	if err := t.commit(); err != nil {
		// The state file cannot be written; leave the operation pending so a
		// later attempt (or a restart) completes it.
		return
	}
}

func (s *Server) rebuildCall(p map[string]any) (*call, *mutation, error) {
	m := s.rt.byID[str(p, "method")]
	if m == nil {
		return nil, nil, fmt.Errorf("unknown method %q in pending operation", str(p, "method"))
	}
	params := map[string]string{}
	for k, v := range objField(p, "params") {
		params[k], _ = v.(string)
	}
	q, _ := url.ParseQuery(str(p, "query"))
	now, _ := time.Parse(time.RFC3339Nano, str(p, "now"))
	c := &call{s: s, m: m, params: params, query: q, body: objField(p, "body"), now: now,
		project: params["project"], region: params["region"], zone: params["zone"], resourceID: str(p, "resourceId")}
	if c.zone != "" && c.region == "" {
		c.region = regionOfZone(c.zone, s.cfg.Regions)
	}
	c.coll, c.name = collectionOf(m, params)
	c.kind = kindFor(m, s.rt)
	h, ok := s.handlerFor(c)
	if !ok || h.mutation == nil {
		return nil, nil, fmt.Errorf("method %s is not a mutation", m.ID)
	}
	return c, h.mutation, nil
}

// The operations resources: zoneOperations, regionOperations, globalOperations.
func init() {
	for _, res := range []string{"zoneOperations", "regionOperations", "globalOperations"} {
		specialHandlers["compute."+res+".get"] = handler{read: opGet}
		specialHandlers["compute."+res+".wait"] = handler{read: opWait}
		specialHandlers["compute."+res+".delete"] = handler{read: opDelete}
		specialHandlers["compute."+res+".list"] = handler{read: opList}
	}
	specialHandlers["compute.globalOperations.aggregatedList"] = handler{read: genericAggregatedList}
}

func opGet(c *call) (any, error) {
	c.s.st.mu.RLock()
	defer c.s.st.mu.RUnlock()
	e := c.s.st.get(c.coll, c.name)
	if e == nil {
		return nil, notFound(c.resourcePath(c.name))
	}
	return c.s.renderOp(e.obj), nil
}

func opWait(c *call) (any, error) {
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		changed := c.s.ops.changed()
		c.s.ops.advance()
		c.s.st.mu.RLock()
		e := c.s.st.get(c.coll, c.name)
		c.s.st.mu.RUnlock()
		if e == nil {
			return nil, notFound(c.resourcePath(c.name))
		}
		if str(e.obj, "status") == "DONE" {
			return e.raw, nil
		}
		var tick <-chan time.Time
		if due := c.s.ops.nextDue.Load(); due != 0 {
			tick = time.After(time.Until(time.Unix(0, due)) + time.Millisecond)
		}
		select {
		case <-changed:
		case <-tick:
		case <-deadline.C:
			return c.s.renderOp(e.obj), nil
		case <-c.ctxDone():
			return nil, errorf(499, "cancelled", "The request was cancelled.")
		}
	}
}

func opDelete(c *call) (any, error) {
	c.s.st.mu.Lock()
	defer c.s.st.mu.Unlock()
	if c.s.st.get(c.coll, c.name) == nil {
		return nil, notFound(c.resourcePath(c.name))
	}
	t := c.s.st.begin()
	t.del(c.coll, c.name)
	if err := t.commit(); err != nil {
		return nil, err
	}
	return json.RawMessage("{}"), nil
}

func opList(c *call) (any, error) {
	return c.s.listCollections(c, []string{c.coll}, func(e *entry) []byte { return c.s.renderOp(e.obj) })
}

package otlp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/privacy"
)

// Converter turns decoded OTLP requests into events: one per log record, metric data
// point or span, with the privacy tier applied and secrets redacted. It keeps no state.
type Converter struct {
	// Tier is the server's privacy tier (event.TierMetadata … event.TierFull).
	Tier int
	// User names who sent the request when the records do not (the authenticated
	// token's name); the records' user.email or user.account_uuid win over it.
	User string
}

// Result is what one request became: the events to store, and how many records could
// not be used and why (OTLP's partial success).
type Result struct {
	Events   []event.Event
	Rejected int64
	Message  string // the first rejection's reason
	// Sources are the installations (OTel user.id) whose records were kept, each once.
	Sources []string
}

func (r *Result) reject(why string) {
	r.Rejected++
	if r.Message == "" {
		r.Message = why
	}
}

// add validates e after the tier and redaction, keeping it or counting it rejected, and
// notes the installation that sent it.
func (c Converter) add(r *Result, a *attrs, e event.Event) {
	privacy.ApplyOTel(&e, c.tier())
	if err := e.Validate(); err != nil {
		r.reject(fmt.Sprintf("%s %q: %v", e.Kind, e.OTel.Name, err))
		return
	}
	r.Events = append(r.Events, e)
	if src := a.str("user.id"); !slices.Contains(r.Sources, src) {
		r.Sources = append(r.Sources, src)
	}
}

func (c Converter) tier() int {
	if c.Tier < event.TierMetadata || c.Tier > event.TierFull {
		return event.TierDetails
	}
	return c.Tier
}

// commonKeys are attributes every record repeats or that say who and where; they become
// the Event's own fields or nothing, never OTel.Attrs or a metric's series.
var commonKeys = map[string]bool{
	"session.id": true, "user.id": true, "user.email": true, "user.account_uuid": true,
	"organization.id": true, "prompt.id": true, "terminal.type": true,
	"event.name": true, "event.timestamp": true, "event.sequence": true,
	"anthropic.provider": true, "anthropic.custom_base_url": true, "gen_ai.conversation.id": true,
	"host.arch": true, "host.name": true, "os.type": true, "os.version": true,
	"service.name": true, "service.version": true,
}

// attrs is one record's attributes, the resource's under the record's own, as text;
// used marks those a typed field took, so Attrs keeps only the rest.
type attrs struct {
	m    map[string]string
	used map[string]bool
}

func newAttrs(resource, record pcommon.Map) *attrs {
	a := &attrs{m: make(map[string]string, resource.Len()+record.Len()), used: map[string]bool{}}
	for k, v := range resource.All() {
		a.m[k] = v.AsString()
	}
	for k, v := range record.All() {
		a.m[k] = v.AsString()
	}
	return a
}

// str returns the first of keys that is present and not empty.
func (a *attrs) str(keys ...string) string {
	for _, k := range keys {
		a.used[k] = true
	}
	for _, k := range keys {
		if v := a.m[k]; v != "" {
			return v
		}
	}
	return ""
}

// int parses leniently: Claude Code sends some numbers as strings ("29") and a
// double where an int belongs is truncated. Anything else, or a negative, is 0.
func (a *attrs) int(keys ...string) int64 {
	s := strings.TrimSpace(a.str(keys...))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return max(n, 0)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1e18 {
		return int64(f)
	}
	return 0
}

func (a *attrs) float(keys ...string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(a.str(keys...)), 64)
	if err != nil || f != f || f < 0 || f >= event.MaxCostUSD {
		return 0 // Validate would refuse the event for one bad estimate; the rest is worth keeping
	}
	return f
}

// bool is nil when absent or not a boolean.
func (a *attrs) bool(keys ...string) *bool {
	b, err := strconv.ParseBool(strings.TrimSpace(a.str(keys...)))
	if err != nil {
		return nil
	}
	return &b
}

// rest is the attributes no typed field took, minus the common ones.
func (a *attrs) rest() map[string]string {
	out := map[string]string{}
	for k, v := range a.m {
		if !a.used[k] && !commonKeys[k] {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// user is who the record names: the e-mail or account when Claude Code is logged in
// (user.id is an opaque hash), else the converter's default.
func (c Converter) user(a *attrs) string {
	if u := a.str("user.email", "user.account_uuid"); u != "" {
		return u
	}
	return c.User
}

// base fills the fields every kind shares.
func (c Converter) base(a *attrs, kind, name string, t time.Time) event.Event {
	return event.Event{
		Kind:      kind,
		SessionID: a.str("session.id", "gen_ai.conversation.id"),
		Time:      t.UTC(),
		PromptID:  a.str("prompt.id"),
		ToolUseID: a.str("tool_use_id", "gen_ai.tool.call.id"),
		ToolName:  a.str("tool_name"),
		AgentID:   a.str("agent_id"),
		User:      c.user(a),
		Host:      a.str("host.name"),
		OTel:      &event.OTel{Name: name},
	}
}

// digest identifies a record with no natural key by what it says.
func digest(name string, t time.Time, m map[string]string, value string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s", name, t.UnixNano(), value)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(h, "\x00%s=%s", k, m[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// shortName strips Claude Code's "claude_code." prefix.
func shortName(s string) string { return strings.TrimPrefix(s, "claude_code.") }

// timeOf is the first non-zero timestamp, or zero.
func timeOf(ts ...pcommon.Timestamp) time.Time {
	for _, t := range ts {
		if t != 0 {
			return t.AsTime()
		}
	}
	return time.Time{}
}

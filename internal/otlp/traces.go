package otlp

import (
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agent-trace/agent-trace/event"
)

// Traces converts every span of td.
func (c Converter) Traces(td ptrace.Traces) Result {
	var r Result
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				c.span(&r, newAttrs(rs.Resource().Attributes(), sp.Attributes()), sp)
			}
		}
	}
	return r
}

func (c Converter) span(r *Result, a *attrs, sp ptrace.Span) {
	name := shortName(sp.Name())
	end := timeOf(sp.EndTimestamp(), sp.StartTimestamp())
	if name == "" || end.IsZero() || sp.SpanID().IsEmpty() {
		r.reject("span without a name, a time or a span id")
		return
	}
	e := c.base(a, event.KindSpan, name, end)
	if e.SessionID == "" {
		r.reject("span " + name + " without session.id")
		return
	}
	o := e.OTel
	o.RequestID = a.str("request_id", "gen_ai.response.id")
	o.Model = a.str("model")
	o.DurationMS = a.int("duration_ms", "interaction.duration_ms")
	if o.DurationMS == 0 && sp.EndTimestamp() > sp.StartTimestamp() {
		o.DurationMS = int64(sp.EndTimestamp()-sp.StartTimestamp()) / 1e6
	}
	o.Success = a.bool("success")
	o.Attempt = a.int("attempt")
	o.StatusCode = a.int("status_code")
	o.Error = a.str("error")
	o.Decision = a.str("decision")
	s := &event.Span{
		TraceID: sp.TraceID().String(),
		SpanID:  sp.SpanID().String(),
		Start:   timeOf(sp.StartTimestamp(), sp.EndTimestamp()).UTC(),
	}
	if !sp.ParentSpanID().IsEmpty() {
		s.ParentID = sp.ParentSpanID().String()
	}
	if sp.Status().Code() == ptrace.StatusCodeError {
		s.Status = "error"
		s.Message = sp.Status().Message()
	}
	o.Span = s
	o.Attrs = a.rest()
	// A span's own ids are its natural key: the same span sent again is stored once.
	e.ID = event.OTelID(event.KindSpan, e.SessionID, s.TraceID, s.SpanID)
	c.add(r, a, e)
}

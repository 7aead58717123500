package projection

import (
	"sort"
	"strings"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// requestRow is one counted API response as its prompt lists it: the tokens and cost
// counted (row), with what OTel's api_request for the same request ID adds.
func requestRow(f *fold, e *event.Event, row agenttrace.PricedUsage) agenttrace.APIRequest {
	r := agenttrace.APIRequest{RequestID: e.Usage.RequestID, Time: e.Time, Model: row.Model, Usage: row.Usage,
		CostUSD: row.CostUSD, Sources: "transcript"}
	o := e
	if e.Kind != event.KindAPIRequest {
		o = f.otel.requests[e.Usage.RequestID]
		if e.Usage.RequestID == "" || o == nil {
			return r
		}
		r.Sources = "transcript+otel"
	} else {
		r.Sources = "otel"
	}
	c := o.OTel.CostUSD
	r.OTelCostUSD = &c
	r.DurationMS, r.TTFTMS, r.QuerySource = o.OTel.DurationMS, o.OTel.TTFTMS, o.OTel.QuerySource
	return r
}

// updateErrors places each new api_error under its prompt (prompt.id, else the prompt
// running at its time). An event never changes once folded (a changed copy refolds), so
// each is placed once.
func (v *view) updateErrors(f *fold) {
	for _, id := range touched(v.full, f.changed.errors, f.otel.errors) {
		e := f.otel.errors[id]
		pid := e.PromptID
		if pid == "" {
			pid = v.placeAt(e.Time)
		}
		if pv, ok := v.prompts[pid]; ok {
			pv.errors[id] = e
			v.dirty[pv] = true
		}
	}
}

// requests are a prompt's API requests (us, in canonical order) and failed attempts, by
// time; nil when it has none.
func (v *view) requests(pv *promptView, us []*usageView) []agenttrace.APIRequest {
	if len(us) == 0 && len(pv.errors) == 0 {
		return nil
	}
	out := make([]agenttrace.APIRequest, 0, len(us)+len(pv.errors))
	for _, uv := range us {
		out = append(out, uv.req)
	}
	errs := make([]*event.Event, 0, len(pv.errors))
	for _, e := range pv.errors {
		errs = append(errs, e)
	}
	sort.Slice(errs, func(i, j int) bool { return orderOf(errs[i]).before(orderOf(errs[j])) })
	for _, e := range errs {
		o := e.OTel
		out = append(out, agenttrace.APIRequest{RequestID: o.RequestID, Time: e.Time, Model: o.Model,
			DurationMS: o.DurationMS, QuerySource: o.QuerySource, Attempt: o.Attempt, StatusCode: o.StatusCode,
			Error: firstNonEmpty(o.Error, o.Name), Sources: "otel"})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// otelSums are the session's totals from OTel records, redone only when one of those
// records changed: float sums are taken in a fixed order, so they equal a sum from the
// start whatever order the records came in.
type otelSums struct {
	cost            *float64
	apiErrors       int
	activeUser, cli float64
	prCount         int
	subagents       []agenttrace.Subagent
	computed        bool
}

func (v *view) otelTotals(f *fold, s *agenttrace.Session) {
	if v.full || f.changed.otelSums || !v.otelSums.computed {
		v.otelSums = sumOTel(f)
	}
	o := v.otelSums
	s.OTelCostUSD, s.APIErrorCount, s.OTelPRCount, s.Subagents = o.cost, o.apiErrors, o.prCount, o.subagents
	s.ActiveUserSeconds, s.ActiveCLISeconds = o.activeUser, o.cli
}

func sumOTel(f *fold) otelSums {
	o := otelSums{computed: true}
	keys := make([]string, 0, len(f.otel.requests))
	for k := range f.otel.requests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		var c float64
		for _, k := range keys {
			c += f.otel.requests[k].OTel.CostUSD
		}
		c = round9(c)
		o.cost = &c
	}
	for _, e := range f.otel.errors {
		if isAttemptError(e) {
			o.apiErrors++
		}
	}
	m := sumMetrics(f.otel.metrics)
	o.activeUser, o.cli = m[metricActiveTime+"\x00user"], m[metricActiveTime+"\x00cli"]
	o.prCount = int(m[metricPRCount+"\x00"])
	for _, p := range f.otel.subagents {
		o.subagents = append(o.subagents, p.v)
	}
	sort.Slice(o.subagents, func(i, j int) bool { return o.subagents[i].AgentID < o.subagents[j].AgentID })
	return o
}

// sumMetrics totals metric points by name and type attribute ("name\x00type"). Delta
// points are added (the same point sent twice has one event ID, so is held once).
// A cumulative point holds its series' total since the series' Start, so each series
// (name, attributes, Start) counts its largest point: points arriving in any order, or
// again, give the same total.
func sumMetrics(points map[string]*event.Event) map[string]float64 {
	ps := make([]*event.Event, 0, len(points))
	for _, e := range points {
		ps = append(ps, e)
	}
	sort.Slice(ps, func(i, j int) bool { return orderOf(ps[i]).before(orderOf(ps[j])) })
	series := map[string]float64{} // cumulative: series key → largest point
	var seriesKeys []string
	out := map[string]float64{}
	for _, e := range ps {
		mp := e.OTel.Metric
		key := e.OTel.Name + "\x00" + metricType(e)
		if !mp.Cumulative {
			out[key] += mp.Value
			continue
		}
		sk := key + "\x00" + mp.Series + "\x00" + mp.Start.UTC().String()
		if old, ok := series[sk]; !ok {
			seriesKeys = append(seriesKeys, sk)
			series[sk] = mp.Value
		} else if mp.Value > old {
			series[sk] = mp.Value
		}
	}
	sort.Strings(seriesKeys)
	for _, sk := range seriesKeys {
		parts := strings.SplitN(sk, "\x00", 3)
		out[parts[0]+"\x00"+parts[1]] += series[sk]
	}
	return out
}

// metricType is a point's type attribute (active_time: user, cli).
func metricType(e *event.Event) string {
	if t, ok := e.OTel.Attrs["type"]; ok {
		return t
	}
	for _, kv := range strings.Split(e.OTel.Metric.Series, ",") {
		if v, ok := strings.CutPrefix(kv, "type="); ok {
			return v
		}
	}
	return ""
}

package web

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// The prompt timeline: a prompt's model requests and tool calls on one time axis, calls
// that ran at the same time in lanes of their own, so waiting, parallel calls and slow
// tools show at a glance. Drawn as inline SVG with CSS classes (the CSP allows no inline
// style); every text from the store is escaped.
const (
	tlWidth    = 1000.0
	tlLabel    = 110.0 // left margin: the lane's label
	tlLane     = 16.0
	tlGap      = 4.0
	tlMaxLanes = 12 // calls that need more lanes share the last one
)

// span is one bar: what it is, when, and how it is drawn.
type span struct {
	start, end time.Time
	class      string
	title      string
}

// timeline draws p's requests and calls, or nothing when it has neither.
func timeline(p agenttrace.Prompt) template.HTML {
	model := requestSpans(p.Requests)
	calls := callSpans(p.ToolCalls, nil, false)
	if len(model)+len(calls) == 0 {
		return ""
	}
	start, end := bounds(p, model, calls)
	lanes := packLanes(calls)
	rows := len(lanes)
	if len(model) > 0 {
		rows++
	}
	h := float64(rows)*(tlLane+tlGap) + 18
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 %.0f %.0f" role="img" aria-label="Timeline of %d tool calls and %d model requests over %s">`,
		tlWidth, h, len(calls), len(model), formatDuration(end.Sub(start).Milliseconds()))
	y := 0.0
	if len(model) > 0 {
		drawLane(&b, "model", model, start, end, y)
		y += tlLane + tlGap
	}
	for i, lane := range lanes {
		label := "tools"
		if i > 0 {
			label = fmt.Sprintf("parallel %d", i+1)
		}
		drawLane(&b, label, lane, start, end, y)
		y += tlLane + tlGap
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f">0</text><text class="axis" x="%.0f" y="%.0f" text-anchor="end">%s</text></svg>`,
		tlLabel, h-4, tlWidth, h-4, template.HTMLEscapeString(formatDuration(end.Sub(start).Milliseconds())))
	return template.HTML(b.String())
}

func drawLane(b *bytes.Buffer, label string, spans []span, start, end time.Time, y float64) {
	fmt.Fprintf(b, `<text class="axis" x="0" y="%.1f">%s</text>`, y+tlLane-4, template.HTMLEscapeString(label))
	total := float64(end.Sub(start))
	plot := tlWidth - tlLabel
	for _, s := range spans {
		x := tlLabel + plot*float64(s.start.Sub(start))/total
		w := max(plot*float64(s.end.Sub(s.start))/total, 2) // an instant still shows
		fmt.Fprintf(b, `<rect class="span %s" x="%.1f" y="%.1f" width="%.1f" height="%.0f" rx="2"><title>%s</title></rect>`,
			s.class, x, y, w, tlLane, template.HTMLEscapeString(s.title))
	}
}

// requestSpans are the model requests: each ends at its time and lasted its duration.
func requestSpans(reqs []agenttrace.APIRequest) []span {
	var out []span
	for _, r := range reqs {
		d := time.Duration(r.DurationMS) * time.Millisecond
		class, what := "req", r.Model
		if r.Error != "" {
			class, what = "req error", "error: "+r.Error
		}
		out = append(out, span{start: r.Time.Add(-d), end: r.Time, class: class,
			title: fmt.Sprintf("%s · %s · %s tokens", what, formatDuration(r.DurationMS), formatTokens(r.Usage.Total()))})
	}
	return out
}

// callSpans flattens calls (a subagent's under its Agent call) in start order.
func callSpans(calls []agenttrace.ToolCall, out []span, sub bool) []span {
	for _, c := range calls {
		end := c.StartedAt.Add(time.Duration(c.DurationMS) * time.Millisecond)
		if c.EndedAt != nil {
			end = *c.EndedAt
		}
		class := "call st-" + c.Status
		if sub {
			class += " sub"
		}
		out = append(out, span{start: c.StartedAt, end: end, class: class,
			title: fmt.Sprintf("%s · %s · %s", c.Name, c.Status, formatDuration(c.DurationMS))})
		out = callSpans(c.Children, out, true)
	}
	return out
}

// bounds is the axis: from the prompt's start to the last thing that ended.
func bounds(p agenttrace.Prompt, groups ...[]span) (start, end time.Time) {
	start = p.StartedAt
	end = p.StartedAt.Add(time.Duration(p.DurationMS) * time.Millisecond)
	for _, g := range groups {
		for _, s := range g {
			if s.start.Before(start) {
				start = s.start
			}
			if s.end.After(end) {
				end = s.end
			}
		}
	}
	if !end.After(start) {
		end = start.Add(time.Millisecond)
	}
	return start, end
}

// packLanes puts each call in the first lane free at its start (calls sorted by start),
// at most tlMaxLanes lanes.
func packLanes(calls []span) [][]span {
	sortSpans(calls)
	var lanes [][]span
	var free []time.Time // when each lane's last call ends
	for _, c := range calls {
		i := 0
		for i < len(lanes) && free[i].After(c.start) {
			i++
		}
		if i == tlMaxLanes {
			i = tlMaxLanes - 1
		}
		if i == len(lanes) {
			lanes, free = append(lanes, nil), append(free, time.Time{})
		}
		lanes[i] = append(lanes[i], c)
		if c.end.After(free[i]) {
			free[i] = c.end
		}
	}
	return lanes
}

func sortSpans(s []span) {
	for i := 1; i < len(s); i++ { // few calls a prompt, mostly in order already
		for j := i; j > 0 && s[j].start.Before(s[j-1].start); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

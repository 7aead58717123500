package privacy

import (
	"strconv"

	"github.com/agent-trace/agent-trace/event"
)

// otelAttrTier is the lowest tier that keeps an OTel attribute (log event, metric point
// or span) whose value is free text. Attributes not named here are kept at tier 1 only
// while their value looks like an enum or a number (OTEL_RESOURCE_ATTRIBUTES' team=…,
// error_type, span.type) and need tier 2 otherwise, so text a new Claude Code version
// adds cannot reach a tier-1 store.
var otelAttrTier = map[string]int{
	// What the user typed and what tools were asked to do: tier 2, like the hook's
	// prompt and tool_input.
	"prompt": event.TierDetails, "prompt_text": event.TierDetails, "user_prompt": event.TierDetails,
	"tool_parameters": event.TierDetails, "tool_input": event.TierDetails,
	"full_command": event.TierDetails, "bash_command": event.TierDetails, "bash_argv0": event.TierDetails,
	"file_path": event.TierDetails, "description": event.TierDetails, "error": event.TierDetails,
	"llm_request.context": event.TierDetails, "managed_settings.sources": event.TierDetails,
	// What the model and the tools answered: tier 3.
	"response": event.TierFull, "tool.output": event.TierFull, "tool_output": event.TierFull,
	"output": event.TierFull,
}

// OTelAttrTier is the lowest tier that keeps attribute key with value v.
func OTelAttrTier(key, v string) int {
	if t, ok := otelAttrTier[key]; ok {
		return t
	}
	if enumLike(v) || isNumberOrBool(v) {
		return event.TierMetadata
	}
	return event.TierDetails
}

func isNumberOrBool(s string) bool {
	if s == "true" || s == "false" || s == "" {
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// ApplyOTel applies the server's privacy tier to an OTel event (one the OTLP receiver
// built: it has no Payload) and then redacts secrets from every string left, counting
// them in e.Redactions. At tier 1 no prompt or response text, tool parameters or input,
// command, path or error text is kept; tier 2 drops responses and tool output; tier 3
// keeps everything. Redaction runs at every tier.
func ApplyOTel(e *event.Event, tier int) {
	e.Tier = tier
	o := e.OTel
	if o == nil {
		return
	}
	c := *o
	textTier := event.TierDetails // a user prompt's text
	if e.Kind == event.KindAssistantResponse {
		textTier = event.TierFull
	}
	if tier < textTier {
		c.Text = ""
	}
	if tier < event.TierDetails {
		c.Parameters = nil
		c.Error = ""
	}
	if c.Span != nil && tier < event.TierDetails && c.Span.Message != "" {
		s := *c.Span
		s.Message = "" // a span's status message is an error's text
		c.Span = &s
	}
	c.Attrs = tierAttrs(c.Attrs, tier)
	counts := map[string]int{}
	redactOTel(&c, counts)
	e.OTel = &c
	addRedactions(e, counts)
}

// tierAttrs returns the attributes the tier keeps (a new map; attrs is not modified).
func tierAttrs(attrs map[string]string, tier int) map[string]string {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if tier >= OTelAttrTier(k, v) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// redactOTel redacts every free-text field of o in place (o is the caller's copy).
func redactOTel(o *event.OTel, counts map[string]int) {
	red := func(p *string) { *p = Redact(*p, counts) }
	red(&o.Text)
	red(&o.Error)
	red(&o.Branch)
	red(&o.Model)
	if o.Parameters != nil {
		if m, ok := RedactValue(o.Parameters, counts).(map[string]any); ok {
			o.Parameters = m
		}
	}
	if len(o.Attrs) > 0 {
		out := make(map[string]string, len(o.Attrs))
		for k, v := range o.Attrs {
			key := Redact(k, counts)
			if isSecretField(k) && v != "" {
				counts["secret_field"]++
				v = redactedPrefix + "secret_field]"
			}
			out[key] = Redact(v, counts)
		}
		o.Attrs = out
	}
	if o.Span != nil && o.Span.Message != "" {
		s := *o.Span
		red(&s.Message)
		o.Span = &s
	}
	if o.Metric != nil && o.Metric.Series != "" {
		m := *o.Metric
		red(&m.Series)
		o.Metric = &m
	}
}

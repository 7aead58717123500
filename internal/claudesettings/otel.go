package claudesettings

import (
	"strings"
)

// OTLPProtocol is the protocol init tells Claude Code to export with. http/protobuf
// rather than grpc: it crosses every HTTP/1.1 reverse proxy and load balancer a team
// puts in front of its server (gRPC needs HTTP/2 end to end); Claude Code's
// otelHeadersHelper and its client-certificate variables work only with the HTTP
// protocols; and it is binary protobuf, smaller than http/json and free of OTLP/JSON's
// hex-id decoding traps. agent-trace-server takes all three on its OTLP port.
const OTLPProtocol = "http/protobuf"

// Telemetry content tiers, agent-trace's privacy tiers (event.TierMetadata...TierFull;
// not imported so this package stays free of the wire format).
const (
	tierDetails = 2
	tierFull    = 3
)

// OTelOptions describe the telemetry Claude Code is to send agent-trace.
type OTelOptions struct {
	Endpoint string // OTLP/HTTP base URL; the exporter appends /v1/logs, /v1/metrics, /v1/traces
	Token    string // ingest token, sent as Authorization: Bearer; none when empty
	Tier     int    // agent-trace privacy tier, 1-3: which content switches are on
	Traces   bool   // also export spans (Claude Code's beta tracing)
}

// OTelEnv is the env block that makes Claude Code export its telemetry to agent-trace,
// in the order init writes it.
//
// The content switches follow the privacy tier, so what leaves Claude Code is what the
// tier keeps: prompts and tool details (commands, paths, parameters) from tier 2, model
// responses from tier 3. They are written as 0 below their tier rather than left out:
// OTEL_LOG_ASSISTANT_RESPONSES otherwise follows OTEL_LOG_USER_PROMPTS, which would send
// responses at tier 2. Raw API bodies (OTEL_LOG_RAW_API_BODIES) are never asked for.
func OTelEnv(o OTelOptions) []EnvVar {
	env := []EnvVar{
		{"CLAUDE_CODE_ENABLE_TELEMETRY", "1"},
		{"OTEL_LOGS_EXPORTER", "otlp"},
		{"OTEL_METRICS_EXPORTER", "otlp"},
	}
	if o.Traces {
		env = append(env,
			EnvVar{"OTEL_TRACES_EXPORTER", "otlp"},
			EnvVar{"CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1"})
	}
	env = append(env,
		EnvVar{"OTEL_EXPORTER_OTLP_PROTOCOL", OTLPProtocol},
		EnvVar{"OTEL_EXPORTER_OTLP_ENDPOINT", o.Endpoint})
	if o.Token != "" {
		env = append(env, EnvVar{"OTEL_EXPORTER_OTLP_HEADERS", "Authorization=" + headerValue("Bearer "+o.Token)})
	}
	env = append(env,
		EnvVar{"OTEL_LOG_USER_PROMPTS", onAt(o.Tier, tierDetails)},
		EnvVar{"OTEL_LOG_TOOL_DETAILS", onAt(o.Tier, tierDetails)},
		EnvVar{"OTEL_LOG_ASSISTANT_RESPONSES", onAt(o.Tier, tierFull)})
	if o.Traces && o.Tier >= tierFull {
		// Tool input and output bodies as span events: tier 3's tool outputs. It
		// needs tracing, so without traces it is not written at all.
		env = append(env, EnvVar{"OTEL_LOG_TOOL_CONTENT", "1"})
	}
	return env
}

func onAt(tier, from int) string {
	if tier >= from {
		return "1"
	}
	return "0"
}

// headerValue escapes what would split or mangle an OTEL_EXPORTER_OTLP_HEADERS value:
// the list is comma-separated, ';' starts metadata and values are percent-decoded.
// A space stays as it is, as Claude Code's documentation writes "Bearer …".
func headerValue(v string) string {
	return strings.NewReplacer("%", "%25", ",", "%2C", ";", "%3B").Replace(v)
}

// SatisfiesOTel reports whether a value the user set already does what agent-trace's
// would: an exporter list that includes otlp, a truthy telemetry switch.
func SatisfiesOTel(name, have, want string) bool {
	switch name {
	case "OTEL_LOGS_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_TRACES_EXPORTER":
		for _, e := range strings.Split(have, ",") {
			if strings.TrimSpace(e) == want {
				return true
			}
		}
	case "CLAUDE_CODE_ENABLE_TELEMETRY", "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA":
		return want == "1" && truthy(have)
	}
	return false
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// ShadowingOTelVars are the per-signal variables that override the general ones init
// writes: when the user set one, that signal goes where it says, not to agent-trace.
func ShadowingOTelVars(env map[string]string, traces bool) []string {
	signals := []string{"LOGS", "METRICS"}
	if traces {
		signals = append(signals, "TRACES")
	}
	var out []string
	for _, sig := range signals {
		for _, what := range []string{"ENDPOINT", "PROTOCOL", "HEADERS"} {
			name := "OTEL_EXPORTER_OTLP_" + sig + "_" + what
			if _, ok := env[name]; ok {
				out = append(out, name)
			}
		}
	}
	return out
}

// OTelWiring is what settings.json's env says about Claude Code's telemetry, for status.
type OTelWiring struct {
	Enabled  bool     // CLAUDE_CODE_ENABLE_TELEMETRY is truthy
	Signals  []string // signals with an otlp exporter: logs, metrics, traces
	Protocol string
	Endpoint string
	Auth     bool // OTEL_EXPORTER_OTLP_HEADERS carries an Authorization header
}

// ReadOTelWiring reads the telemetry variables of an env block.
func ReadOTelWiring(env map[string]string) OTelWiring {
	w := OTelWiring{
		Enabled:  truthy(env["CLAUDE_CODE_ENABLE_TELEMETRY"]),
		Protocol: env["OTEL_EXPORTER_OTLP_PROTOCOL"],
		Endpoint: env["OTEL_EXPORTER_OTLP_ENDPOINT"],
		Auth:     strings.Contains(strings.ToLower(env["OTEL_EXPORTER_OTLP_HEADERS"]), "authorization="),
	}
	for _, s := range []struct{ name, key string }{{"logs", "OTEL_LOGS_EXPORTER"}, {"metrics", "OTEL_METRICS_EXPORTER"}, {"traces", "OTEL_TRACES_EXPORTER"}} {
		// Claude Code makes spans only with its beta switch on.
		if s.name == "traces" && !truthy(env["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"]) {
			continue
		}
		if SatisfiesOTel(s.key, env[s.key], "otlp") {
			w.Signals = append(w.Signals, s.name)
		}
	}
	return w
}

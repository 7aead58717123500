package claudesettings

import (
	"reflect"
	"testing"
)

func envMap(vars []EnvVar) map[string]string {
	m := map[string]string{}
	for _, v := range vars {
		m[v.Name] = v.Value
	}
	return m
}

// The variables init writes, per privacy tier: content switches never above the tier.
func TestOTelEnvPerTier(t *testing.T) {
	base := map[string]string{
		"CLAUDE_CODE_ENABLE_TELEMETRY": "1",
		"OTEL_LOGS_EXPORTER":           "otlp",
		"OTEL_METRICS_EXPORTER":        "otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL":  "http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT":  "http://127.0.0.1:4717",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tt := range []struct {
		name string
		opts OTelOptions
		want map[string]string
	}{
		{"tier 1", OTelOptions{Tier: 1}, with(map[string]string{
			"OTEL_LOG_USER_PROMPTS": "0", "OTEL_LOG_TOOL_DETAILS": "0", "OTEL_LOG_ASSISTANT_RESPONSES": "0"})},
		// Responses explicitly off: unset, they would follow OTEL_LOG_USER_PROMPTS=1.
		{"tier 2", OTelOptions{Tier: 2}, with(map[string]string{
			"OTEL_LOG_USER_PROMPTS": "1", "OTEL_LOG_TOOL_DETAILS": "1", "OTEL_LOG_ASSISTANT_RESPONSES": "0"})},
		{"tier 3", OTelOptions{Tier: 3}, with(map[string]string{
			"OTEL_LOG_USER_PROMPTS": "1", "OTEL_LOG_TOOL_DETAILS": "1", "OTEL_LOG_ASSISTANT_RESPONSES": "1"})},
		{"tier 3 with traces", OTelOptions{Tier: 3, Traces: true}, with(map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
			"OTEL_LOG_USER_PROMPTS": "1", "OTEL_LOG_TOOL_DETAILS": "1", "OTEL_LOG_ASSISTANT_RESPONSES": "1",
			"OTEL_LOG_TOOL_CONTENT": "1"})},
		{"tier 2 with traces: no tool content", OTelOptions{Tier: 2, Traces: true}, with(map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
			"OTEL_LOG_USER_PROMPTS": "1", "OTEL_LOG_TOOL_DETAILS": "1", "OTEL_LOG_ASSISTANT_RESPONSES": "0"})},
		{"token", OTelOptions{Tier: 1, Token: "atk_abc"}, with(map[string]string{
			"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer atk_abc",
			"OTEL_LOG_USER_PROMPTS":      "0", "OTEL_LOG_TOOL_DETAILS": "0", "OTEL_LOG_ASSISTANT_RESPONSES": "0"})},
		{"token needing escapes", OTelOptions{Tier: 1, Token: "a,b;c%d=e"}, with(map[string]string{
			"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer a%2Cb%3Bc%25d=e",
			"OTEL_LOG_USER_PROMPTS":      "0", "OTEL_LOG_TOOL_DETAILS": "0", "OTEL_LOG_ASSISTANT_RESPONSES": "0"})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Endpoint = "http://127.0.0.1:4717"
			got := OTelEnv(tt.opts)
			if m := envMap(got); !reflect.DeepEqual(m, tt.want) {
				t.Errorf("OTelEnv(%+v) =\n%v\nwant\n%v", tt.opts, m, tt.want)
			}
			if len(envMap(got)) != len(got) {
				t.Errorf("OTelEnv names a variable twice: %v", got)
			}
		})
	}
}

func TestReadOTelWiring(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want OTelWiring
	}{
		{"nothing", nil, OTelWiring{}},
		{"init's", envMap(OTelEnv(OTelOptions{Endpoint: "http://h:4717", Token: "t", Tier: 2})),
			OTelWiring{Enabled: true, Signals: []string{"logs", "metrics"}, Protocol: "http/protobuf", Endpoint: "http://h:4717", Auth: true}},
		{"traces need the beta switch", map[string]string{"CLAUDE_CODE_ENABLE_TELEMETRY": "true", "OTEL_TRACES_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "console,otlp"},
			OTelWiring{Enabled: true, Signals: []string{"logs"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReadOTelWiring(tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadOTelWiring = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestShadowingOTelVars(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "x", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "y"}
	if got, want := ShadowingOTelVars(env, false), []string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"}; !reflect.DeepEqual(got, want) {
		t.Errorf("without traces = %v, want %v", got, want)
	}
	if got := ShadowingOTelVars(env, true); len(got) != 2 {
		t.Errorf("with traces = %v, want the traces one too", got)
	}
}

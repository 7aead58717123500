package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/claudesettings"
	"github.com/spf13/cobra"
)

// otelPlan is what init does to Claude Code's telemetry variables in one settings file:
// set them up (on), remove them (off), or neither.
type otelPlan struct {
	on, off bool
	setup   agentconfig.OTelSetup      // what to record when on
	opts    claudesettings.OTelOptions // what is written when on
	edit    claudesettings.Edit        // nil when there is nothing to do
	res     claudesettings.EnvResult   // filled in by edit
	prev    *agentconfig.OTelSetup     // the record before, if any
}

// planOTel decides from the flags and the record of an earlier init: --otel sets
// telemetry up, --otel=false removes it, and without the flag an earlier setup is kept
// and brought up to date with the collector, tier and token.
func planOTel(cmd *cobra.Command, cfg agentconfig.Config, o initOptions, settings string) (*otelPlan, error) {
	flags := cmd.Flags()
	p := &otelPlan{prev: cfg.OTel[settings]}
	p.on = o.otel || (!flags.Changed("otel") && p.prev != nil)
	p.off = flags.Changed("otel") && !o.otel && p.prev != nil
	if !p.on {
		for _, f := range []string{"otlp-endpoint", "otel-traces", "otel-overwrite"} {
			if flags.Changed(f) {
				return nil, &exitError{code: 2, msg: "init: --" + f + " needs --otel"}
			}
		}
		if p.off {
			p.edit = claudesettings.UnsetEnvEdit(p.prev.Env, &p.res)
		}
		return p, nil
	}
	var owned map[string]claudesettings.OwnedEnv
	if p.prev != nil {
		p.setup.Endpoint, p.setup.Traces, owned = p.prev.Endpoint, p.prev.Traces, p.prev.Env
	}
	if flags.Changed("otlp-endpoint") {
		p.setup.Endpoint = strings.TrimRight(o.otlpEndpoint, "/")
	}
	if flags.Changed("otel-traces") {
		p.setup.Traces = o.traces
	}
	endpoint := p.setup.Endpoint
	if endpoint == "" {
		var err error
		if endpoint, err = agentconfig.OTLPEndpoint(cfg.CollectorURL); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
	}
	p.opts = claudesettings.OTelOptions{Endpoint: endpoint, Token: cfg.Token, Tier: cfg.Tier, Traces: p.setup.Traces}
	p.edit = claudesettings.SetEnvEdit(claudesettings.OTelEnv(p.opts), owned,
		claudesettings.EnvOptions{Overwrite: o.overwrite, Satisfies: claudesettings.SatisfiesOTel}, &p.res)
	return p, nil
}

// record stores in cfg what the applied plan left in the settings file.
func (p *otelPlan) record(cfg *agentconfig.Config, settings string) {
	switch {
	case p.on:
		if cfg.OTel == nil {
			cfg.OTel = map[string]*agentconfig.OTelSetup{}
		}
		p.setup.Env = p.res.Owned
		cfg.OTel[settings] = &p.setup
	case p.off:
		delete(cfg.OTel, settings)
	}
}

// report says what the applied plan did, and returns an error (exit 1) when variables
// the user set keep Claude Code's telemetry from reaching agent-trace.
func (p *otelPlan) report(ctx context.Context, stdout io.Writer, settings string, cfg agentconfig.Config, reachable bool) error {
	switch {
	case p.off:
		fmt.Fprintf(stdout, "telemetry: removed Claude Code's telemetry variables from %s\n", settings)
		reportKept(stdout, p.res.Kept, "you changed it since init wrote it, so it stays")
		return nil
	case !p.on:
		return nil
	}
	if p.res.Changed {
		fmt.Fprintf(stdout, "telemetry: Claude Code exports %s over %s to %s%s (%s); written to %s; restart Claude Code to apply\n",
			signalList(p.opts.Traces), claudesettings.OTLPProtocol, p.opts.Endpoint, tokenPhrase(p.opts.Token), tierContent(p.opts.Tier), settings)
	} else {
		fmt.Fprintf(stdout, "telemetry: already set in %s; nothing changed\n", settings)
	}
	for _, r := range p.res.Replaced {
		fmt.Fprintf(stdout, "telemetry: replaced your %s=%s (uninstall puts it back)\n", r.Name, shownValue(r.Name, r.Have))
	}
	reportKept(stdout, p.res.Kept, "agent-trace's would be %s; --otel-overwrite replaces it")
	if env, err := claudesettings.Env(settings); err == nil {
		for _, name := range claudesettings.ShadowingOTelVars(env, p.opts.Traces) {
			fmt.Fprintf(stdout, "telemetry: your %s overrides agent-trace's for that signal, which then does not reach agent-trace; remove it to send it here\n", name)
		}
	}
	if _, ours := p.res.Owned["OTEL_EXPORTER_OTLP_HEADERS"]; ours && p.res.Changed {
		fmt.Fprintf(stdout, "telemetry: %s now holds the ingest token; %s\n", settings, fileMode(settings))
	}
	if reachable {
		fmt.Fprintf(stdout, "telemetry: server: %s\n", otlpServerStatus(ctx, cfg.CollectorURL))
	}
	if blocking := blockingConflicts(p.res.Kept); len(blocking) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("init: Claude Code's telemetry will not reach agent-trace: you set %s yourself (see above); rerun with --otel-overwrite to replace them",
			strings.Join(blocking, ", "))}
	}
	return nil
}

// reportKept says which of the user's values stayed; why may hold one %s, the value
// agent-trace wanted.
func reportKept(stdout io.Writer, kept []claudesettings.EnvConflict, why string) {
	for _, k := range kept {
		reason := why
		if strings.Contains(why, "%s") {
			reason = fmt.Sprintf(why, shownValue(k.Name, k.Want))
		}
		fmt.Fprintf(stdout, "telemetry: kept your %s=%s (%s)\n", k.Name, shownValue(k.Name, k.Have), reason)
	}
}

// blockingConflicts are the kept user values that send telemetry elsewhere or not at
// all; a content switch (OTEL_LOG_*) only changes how much is sent.
func blockingConflicts(kept []claudesettings.EnvConflict) []string {
	var names []string
	for _, k := range kept {
		if !strings.HasPrefix(k.Name, "OTEL_LOG_") {
			names = append(names, k.Name)
		}
	}
	return names
}

// shownValue hides header values: they carry tokens.
func shownValue(name, v string) string {
	if strings.Contains(name, "HEADERS") {
		return "(hidden)"
	}
	return v
}

func signalList(traces bool) string {
	if traces {
		return "logs, metrics and traces"
	}
	return "logs and metrics"
}

func tokenPhrase(token string) string {
	if token == "" {
		return ""
	}
	return " with the ingest token"
}

func tierContent(tier int) string {
	switch tier {
	case 1:
		return "tier 1: no prompts, tool details or responses"
	case 2:
		return "tier 2: prompts and tool details, no responses"
	}
	return "tier 3: prompts, tool details and responses"
}

func fileMode(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "check its permissions"
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return fmt.Sprintf("it is readable by you only (%#o)", fi.Mode().Perm())
	}
	return fmt.Sprintf("its mode %#o lets others read it", fi.Mode().Perm())
}

// otlpServerStatus asks agent-trace-deliver when the collector last received OTel: the
// HTTP client lives there, so this binary does not link one.
func otlpServerStatus(ctx context.Context, base string) string {
	if base == "" {
		return "not configured"
	}
	return runDeliverer(ctx, "--otlp-status", base)
}

// statusOTel reports whether settings.json wires Claude Code's telemetry to agent-trace
// and when the server last received some.
func statusOTel(ctx context.Context, w *statusWriter, cfg agentconfig.Config, reachable bool) {
	settings := claudesettings.SettingsPath()
	env, err := claudesettings.Env(settings)
	if err != nil {
		w.line("telemetry", "cannot read %s: %v", settings, err)
		return
	}
	wiring := claudesettings.ReadOTelWiring(env)
	want := expectedEndpoint(cfg, settings)
	switch {
	case !wiring.Enabled || len(wiring.Signals) == 0:
		w.line("telemetry", "not wired in %s (run `agent-trace-hook init --otel`)", settings)
	default:
		line := fmt.Sprintf("wired in %s: %s over %s to %s", settings, strings.Join(wiring.Signals, ", "), orUnset(wiring.Protocol), orUnset(wiring.Endpoint))
		if wiring.Auth {
			line += " with a token"
		}
		if want != "" && strings.TrimRight(wiring.Endpoint, "/") != want {
			line += fmt.Sprintf("; agent-trace's OTLP endpoint is %s, so it does not get them", want)
		}
		w.line("telemetry", "%s", line)
	}
	for _, name := range claudesettings.ShadowingOTelVars(env, true) {
		w.line("telemetry", "%s=%s overrides the endpoint settings for that signal", name, shownValue(name, env[name]))
	}
	if !reachable {
		w.line("last OTel", "not checked: the collector does not answer")
		return
	}
	// Asked even when settings.json is not wired: managed settings may send it.
	w.line("last OTel", "%s", otlpServerStatus(ctx, cfg.CollectorURL))
}

// expectedEndpoint is the OTLP endpoint agent-trace would write: the recorded
// --otlp-endpoint, else the one derived from the collector URL.
func expectedEndpoint(cfg agentconfig.Config, settings string) string {
	if s := cfg.OTel[settings]; s != nil && s.Endpoint != "" {
		return s.Endpoint
	}
	ep, _ := agentconfig.OTLPEndpoint(cfg.CollectorURL)
	return ep
}

func orUnset(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/claudesettings"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/spf13/cobra"
)

// initOptions are init's flags.
type initOptions struct {
	collectorURL, token, user, otlpEndpoint string
	tier                                    int
	otel, noHooks, traces, overwrite        bool
	mcp                                     bool
	mcpURL, mcpToken                        string
}

func initCmd(stdout io.Writer) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Configure the collector and privacy tier and wire the hooks (and, with --otel, telemetry) into Claude Code",
		Long: `Write the hook's config ($AGENT_TRACE_HOME/config.json) and merge agent-trace-hook's
handlers for every Claude Code hook event into Claude Code's settings.json
($CLAUDE_CONFIG_DIR/settings.json, else ~/.claude/settings.json).

Your other settings and hooks are kept, the previous file is backed up, and running
init twice changes nothing. The handlers run this binary by its absolute path.

Privacy tiers (applied before anything touches disk; secrets are redacted at every tier):
  1  metadata: ids, timestamps, tool names, status, durations, tokens, cost, git SHAs
  2  + prompts, tool inputs (commands, paths), diffs, commit messages, PR URLs
  3  + tool outputs and model responses

--otel also turns on Claude Code's own telemetry (every API request with its tokens,
cost, duration and errors, tool decisions, active time) by writing its variables into
settings.json's "env" block: CLAUDE_CODE_ENABLE_TELEMETRY=1, OTEL_LOGS_EXPORTER and
OTEL_METRICS_EXPORTER=otlp, OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf,
OTEL_EXPORTER_OTLP_ENDPOINT (the collector's host on port 4717, or --otlp-endpoint),
OTEL_EXPORTER_OTLP_HEADERS with the token, and the content switches of the tier:
OTEL_LOG_USER_PROMPTS and OTEL_LOG_TOOL_DETAILS from tier 2, OTEL_LOG_ASSISTANT_RESPONSES
at tier 3. --otel-traces adds Claude Code's beta spans. A variable you set yourself is
kept, and init says so (exiting 1 when that keeps telemetry from reaching agent-trace);
--otel-overwrite replaces it, and uninstall puts it back. Claude Code reads these only
at start: restart it. Once set up, a later init keeps telemetry on and up to date with
the collector, tier and token; --otel=false removes it. --no-hooks leaves the hooks out
(and removes ones an earlier init added), for telemetry alone.

--mcp registers agent-trace's MCP server with Claude Code, so it can ask its own history
("what did I try last week on the flaky test?"): a user-scope server in the "mcpServers"
of Claude Code's global config ($CLAUDE_CONFIG_DIR/.claude.json, else ~/.claude.json),
every other key kept, of the HTTP transport: {"type": "http", "url":
"http://<collector host>:8318/mcp", "headers": {"Authorization": "Bearer <token>"}}, so
this machine needs no server binary. The token is --mcp-token, else --token; the server's
/mcp needs a read or admin token when auth is on. Restart Claude Code to load it; its
tools are mcp__agent-trace__search_sessions, get_session, find_file_history, find_commit
and cost_report. --mcp=false, or uninstall, removes the entry init wrote.

AGENT_TRACE_COLLECTOR_URL, AGENT_TRACE_TOKEN and AGENT_TRACE_PRIVACY_TIER override the
config file at run time. Without --privacy-tier, init takes the tier from
AGENT_TRACE_PRIVACY_TIER, else OTEL_PRIVACY_TIER (the original agent-trace's name).`,
		Example: `  agent-trace-hook init --collector-url http://127.0.0.1:8317 --privacy-tier 2
  agent-trace-hook init --collector-url https://trace.example.com --privacy-tier 1 --token $TOKEN --user alice
  agent-trace-hook init --otel                      # hooks and Claude Code's telemetry
  agent-trace-hook init --otel --no-hooks           # telemetry alone
  agent-trace-hook init --otel --otlp-endpoint https://trace.example.com   # OTLP/HTTP on the collector's own port
  agent-trace-hook init --mcp --mcp-token $READ_TOKEN   # let Claude Code ask its history over MCP`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInit(cmd, stdout, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.collectorURL, "collector-url", agentconfig.DefaultCollectorURL, "the agent-trace collector's base URL")
	f.IntVar(&o.tier, "privacy-tier", agentconfig.DefaultTier, "how much to capture: 1 metadata, 2 details, 3 everything")
	f.StringVar(&o.token, "token", "", "bearer token for the collector (team servers)")
	f.StringVar(&o.user, "user", "", "user name recorded on every event (default $USER)")
	f.BoolVar(&o.otel, "otel", false, "also make Claude Code export its OpenTelemetry logs and metrics to agent-trace")
	f.BoolVar(&o.noHooks, "no-hooks", false, "register no hooks (with --otel: telemetry alone)")
	f.StringVar(&o.otlpEndpoint, "otlp-endpoint", "", "OTLP/HTTP endpoint for --otel (default: the collector's host, port "+agentconfig.DefaultOTLPPort+")")
	f.BoolVar(&o.traces, "otel-traces", false, "with --otel: also export Claude Code's spans (beta: CLAUDE_CODE_ENHANCED_TELEMETRY_BETA)")
	f.BoolVar(&o.overwrite, "otel-overwrite", false, "with --otel: replace telemetry variables you set yourself (uninstall puts them back)")
	f.BoolVar(&o.mcp, "mcp", false, "also register agent-trace's MCP server with Claude Code (user scope, in ~/.claude.json); --mcp=false removes it")
	f.StringVar(&o.mcpURL, "mcp-url", "", "with --mcp: the server's MCP endpoint (default: the collector's host, port "+defaultAPIPort+", /mcp)")
	f.StringVar(&o.mcpToken, "mcp-token", "", "with --mcp: a read token for the MCP endpoint (default: --token, when it allows reading)")
	return cmd
}

// runInit writes the config, then Claude Code's telemetry variables and hooks.
func runInit(cmd *cobra.Command, stdout io.Writer, o initOptions) error {
	if err := checkInitFlags(cmd, &o); err != nil {
		return err
	}
	home := agentconfig.Home()
	// Start from the file as saved, not LoadConfig's view: environment overrides
	// (AGENT_TRACE_TOKEN, ...) apply at run time and must not be persisted here.
	cfg := savedConfig(home)
	cfg.CollectorURL = agentconfig.NormalizeCollectorURL(o.collectorURL)
	cfg.Tier = o.tier
	if cmd.Flags().Changed("token") {
		cfg.Token = o.token
	}
	if cmd.Flags().Changed("user") {
		cfg.User = o.user
	}
	if err := agentconfig.SaveConfig(home, cfg); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	tokenNote := "no token"
	if cfg.Token != "" {
		tokenNote = "a token"
	}
	fmt.Fprintf(stdout, "config: wrote %s (collector %s, privacy tier %d, %s)\n",
		filepath.Join(home, "config.json"), cfg.CollectorURL, cfg.Tier, tokenNote)
	// Say at once whether the collector answers; an unreachable one is no reason
	// to fail the install (a laptop offline, a server not started yet).
	collector, reachable := collectorStatus(cmd.Context(), cfg.CollectorURL)
	fmt.Fprintf(stdout, "collector: %s\n", collector)

	otelErr, err := initSettings(cmd, stdout, home, &cfg, o, reachable)
	if err != nil {
		return err
	}
	if err := initMCP(cmd, stdout, home, &cfg, o); err != nil {
		return err
	}
	if _, err := delivererPath(); err != nil {
		fmt.Fprintf(stdout, "deliverer: %v; events will wait in the spool\n", err)
	}
	if _, err := os.Stat(filepath.Join(home, "spool.db")); err == nil {
		// New credentials deserve a new try at once.
		if err := spool.ClearStop(spool.Path(home)); err != nil {
			fmt.Fprintf(stdout, "spool: could not clear a previous delivery stop: %v\n", err)
		}
	}
	if otelErr != nil {
		return otelErr
	}
	fmt.Fprintln(stdout, "next: start Claude Code; `agent-trace-hook status` shows what is captured and delivered")
	return nil
}

// checkInitFlags validates init's flags (exit code 2 on a bad one), taking the tier from
// the environment when --privacy-tier is not given.
func checkInitFlags(cmd *cobra.Command, o *initOptions) error {
	if !cmd.Flags().Changed("privacy-tier") {
		var err error
		if o.tier, err = tierFromEnv(o.tier); err != nil {
			return &exitError{code: 2, msg: "init: " + err.Error()}
		}
	}
	if o.tier < event.TierMetadata || o.tier > event.TierFull {
		return &exitError{code: 2, msg: fmt.Sprintf("init: --privacy-tier %d: must be 1, 2 or 3", o.tier)}
	}
	if !isHTTPURL(o.collectorURL) {
		return &exitError{code: 2, msg: fmt.Sprintf("init: --collector-url %q: want an http(s) URL such as http://127.0.0.1:8317", o.collectorURL)}
	}
	if o.mcpURL != "" && !isHTTPURL(o.mcpURL) {
		return &exitError{code: 2, msg: fmt.Sprintf("init: --mcp-url %q: want an http(s) URL such as http://127.0.0.1:8318/mcp", o.mcpURL)}
	}
	if o.otlpEndpoint != "" && !isHTTPURL(o.otlpEndpoint) {
		return &exitError{code: 2, msg: fmt.Sprintf("init: --otlp-endpoint %q: want an http(s) URL such as http://127.0.0.1:4717", o.otlpEndpoint)}
	}
	return nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// initSettings writes Claude Code's settings.json in one go: the hook handlers (or,
// with --no-hooks, none of ours) and the telemetry variables planOTel decides on. It
// returns otelErr when the user's own variables keep telemetry from reaching agent-trace
// (reported, but no reason to stop the rest of init).
func initSettings(cmd *cobra.Command, stdout io.Writer, home string, cfg *agentconfig.Config, o initOptions, reachable bool) (otelErr, err error) {
	bin, err := selfPath()
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	settings := claudesettings.SettingsPath()
	plan, err := planOTel(cmd, *cfg, o, settings)
	if err != nil {
		return nil, err
	}
	hooks := claudesettings.UninstallHooks(bin)
	if !o.noHooks {
		if hooks, err = claudesettings.InstallHooks(bin); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
	}
	var hooksChanged bool
	edits := []claudesettings.Edit{claudesettings.Track(hooks, &hooksChanged)}
	if plan.edit != nil {
		edits = append(edits, plan.edit)
	}
	if _, err := claudesettings.Apply(settings, plan.opts.Token != "", edits...); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if plan.on || plan.off {
		plan.record(cfg, settings)
		if err := agentconfig.SaveConfig(home, *cfg); err != nil {
			return nil, fmt.Errorf("init: record the telemetry variables written to %s: %w", settings, err)
		}
	}
	switch {
	case o.noHooks && hooksChanged:
		fmt.Fprintf(stdout, "hooks: removed agent-trace-hook from %s (--no-hooks)\n", settings)
	case o.noHooks:
		fmt.Fprintln(stdout, "hooks: none registered (--no-hooks)")
	case hooksChanged:
		fmt.Fprintf(stdout, "hooks: registered %s for %d events in %s\n", bin, len(claudesettings.Events), settings)
	default:
		fmt.Fprintf(stdout, "hooks: already registered in %s; nothing changed\n", settings)
	}
	return plan.report(cmd.Context(), stdout, settings, *cfg, reachable), nil
}

// tierFromEnv is the tier init uses without --privacy-tier: AGENT_TRACE_PRIVACY_TIER,
// else OTEL_PRIVACY_TIER, the variable the original agent-trace documents, else def.
func tierFromEnv(def int) (int, error) {
	for _, name := range []string{"AGENT_TRACE_PRIVACY_TIER", "OTEL_PRIVACY_TIER"} {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			t, err := strconv.Atoi(v)
			if err != nil || t < event.TierMetadata || t > event.TierFull {
				return 0, fmt.Errorf("%s=%q: must be 1, 2 or 3", name, v)
			}
			return t, nil
		}
	}
	return def, nil
}

// savedConfig is the config file over the defaults, without environment overrides. An
// unreadable file yields the defaults; init is about to replace it anyway.
func savedConfig(home string) agentconfig.Config {
	cfg := agentconfig.DefaultConfig()
	data, err := os.ReadFile(filepath.Join(home, "config.json"))
	if err != nil {
		return cfg
	}
	next := cfg
	if json.Unmarshal(data, &next) != nil {
		return cfg
	}
	if next.Tier < event.TierMetadata || next.Tier > event.TierFull {
		next.Tier = cfg.Tier
	}
	if next.CollectorURL == "" {
		next.CollectorURL = cfg.CollectorURL
	}
	next.CollectorURL = agentconfig.NormalizeCollectorURL(next.CollectorURL)
	if next.SpoolMaxBytes <= 0 {
		next.SpoolMaxBytes = cfg.SpoolMaxBytes
	}
	return next
}

// collectorStatus is probe's answer with what it means for the events being captured,
// and whether the collector answered.
func collectorStatus(ctx context.Context, base string) (string, bool) {
	st := probe(ctx, base)
	if strings.HasPrefix(st, "reachable") {
		return base + " " + st, true
	}
	return base + " " + st + "; events wait in the spool until it answers (agent-trace-hook status checks again)", false
}

func uninstallCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall",
		Short: "Remove agent-trace-hook's handlers, telemetry variables and MCP server from Claude Code's settings",
		Long: `Remove exactly what init added to Claude Code's settings.json: the hook handlers and
the telemetry variables init --otel wrote (those still holding the value init wrote;
a value of yours that --otel-overwrite replaced is put back), and the MCP server entry
init --mcp wrote into ~/.claude.json (unless you changed it since). Every other setting,
hook and variable is kept. The config and the spool in $AGENT_TRACE_HOME stay; run
` + "`agent-trace-hook flush`" + ` first to deliver what is still pending.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUninstall(stdout)
		},
	}
}

// runUninstall removes the hooks and the recorded telemetry variables in one write, then
// forgets the record.
func runUninstall(stdout io.Writer) error {
	bin, err := selfPath()
	if err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	home := agentconfig.Home()
	cfg := savedConfig(home)
	settings := claudesettings.SettingsPath()
	var hooksChanged bool
	edits := []claudesettings.Edit{claudesettings.Track(claudesettings.UninstallHooks(bin), &hooksChanged)}
	setup := cfg.OTel[settings]
	var env claudesettings.EnvResult
	if setup != nil {
		edits = append(edits, claudesettings.UnsetEnvEdit(setup.Env, &env))
	}
	if _, err := claudesettings.Apply(settings, false, edits...); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	if hooksChanged {
		fmt.Fprintf(stdout, "hooks: removed agent-trace-hook from %s\n", settings)
	} else {
		fmt.Fprintf(stdout, "hooks: none installed in %s; nothing changed\n", settings)
	}
	if err := removeMCP(stdout, home, &cfg, claudesettings.GlobalConfigPath()); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	if setup == nil {
		return nil
	}
	delete(cfg.OTel, settings)
	if err := agentconfig.SaveConfig(home, cfg); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	fmt.Fprintf(stdout, "telemetry: removed the variables init --otel wrote to %s\n", settings)
	reportKept(stdout, env.Kept, "you changed it since init wrote it, so it stays")
	return nil
}

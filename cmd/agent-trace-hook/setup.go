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

func initCmd(stdout io.Writer) *cobra.Command {
	var collectorURL, token, user string
	var tier int
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Configure the collector and privacy tier and wire the hooks into Claude Code",
		Long: `Write the hook's config ($AGENT_TRACE_HOME/config.json) and merge agent-trace-hook's
handlers for every Claude Code hook event into Claude Code's settings.json
($CLAUDE_CONFIG_DIR/settings.json, else ~/.claude/settings.json).

Your other settings and hooks are kept, the previous file is backed up, and running
init twice changes nothing. The handlers run this binary by its absolute path.

Privacy tiers (applied before anything touches disk; secrets are redacted at every tier):
  1  metadata: ids, timestamps, tool names, status, durations, tokens, cost, git SHAs
  2  + prompts, tool inputs (commands, paths), diffs, commit messages, PR URLs
  3  + tool outputs and model responses

AGENT_TRACE_COLLECTOR_URL, AGENT_TRACE_TOKEN and AGENT_TRACE_PRIVACY_TIER override the
config file at run time. Without --privacy-tier, init takes the tier from
AGENT_TRACE_PRIVACY_TIER, else OTEL_PRIVACY_TIER (the original agent-trace's name).`,
		Example: `  agent-trace-hook init --collector-url http://127.0.0.1:8317 --privacy-tier 2
  agent-trace-hook init --collector-url https://trace.example.com --privacy-tier 1 --token $TOKEN --user alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("privacy-tier") {
				var err error
				if tier, err = tierFromEnv(tier); err != nil {
					return &exitError{code: 2, msg: "init: " + err.Error()}
				}
			}
			if tier < event.TierMetadata || tier > event.TierFull {
				return &exitError{code: 2, msg: fmt.Sprintf("init: --privacy-tier %d: must be 1, 2 or 3", tier)}
			}
			u, err := url.Parse(collectorURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return &exitError{code: 2, msg: fmt.Sprintf("init: --collector-url %q: want an http(s) URL such as http://127.0.0.1:8317", collectorURL)}
			}
			home := agentconfig.Home()
			// Start from the file as saved, not LoadConfig's view: environment overrides
			// (AGENT_TRACE_TOKEN, ...) apply at run time and must not be persisted here.
			cfg := savedConfig(home)
			cfg.CollectorURL = agentconfig.NormalizeCollectorURL(collectorURL)
			cfg.Tier = tier
			if cmd.Flags().Changed("token") {
				cfg.Token = token
			}
			if cmd.Flags().Changed("user") {
				cfg.User = user
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
			fmt.Fprintf(stdout, "collector: %s\n", collectorStatus(cmd.Context(), cfg.CollectorURL))

			bin, err := selfPath()
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			settings := claudesettings.SettingsPath()
			changed, err := claudesettings.Install(settings, bin)
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			if changed {
				fmt.Fprintf(stdout, "hooks: registered %s for %d events in %s\n", bin, len(claudesettings.Events), settings)
			} else {
				fmt.Fprintf(stdout, "hooks: already registered in %s; nothing changed\n", settings)
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
			fmt.Fprintln(stdout, "next: start Claude Code; `agent-trace-hook status` shows what is captured and delivered")
			return nil
		},
	}
	cmd.Flags().StringVar(&collectorURL, "collector-url", agentconfig.DefaultCollectorURL, "the agent-trace collector's base URL")
	cmd.Flags().IntVar(&tier, "privacy-tier", agentconfig.DefaultTier, "how much to capture: 1 metadata, 2 details, 3 everything")
	cmd.Flags().StringVar(&token, "token", "", "bearer token for the collector (team servers)")
	cmd.Flags().StringVar(&user, "user", "", "user name recorded on every event (default $USER)")
	return cmd
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

// collectorStatus is probe's answer with what it means for the events being captured.
func collectorStatus(ctx context.Context, base string) string {
	st := probe(ctx, base)
	if strings.HasPrefix(st, "reachable") {
		return base + " " + st
	}
	return base + " " + st + "; events wait in the spool until it answers (agent-trace-hook status checks again)"
}

func uninstallCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall",
		Short: "Remove agent-trace-hook's handlers from Claude Code's settings.json",
		Long: `Remove exactly the handlers init added from Claude Code's settings.json, keeping
every other setting and hook. The config and the spool in $AGENT_TRACE_HOME stay; run
` + "`agent-trace-hook flush`" + ` first to deliver what is still pending.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			bin, err := selfPath()
			if err != nil {
				return fmt.Errorf("uninstall: %w", err)
			}
			settings := claudesettings.SettingsPath()
			changed, err := claudesettings.Uninstall(settings, bin)
			if err != nil {
				return fmt.Errorf("uninstall: %w", err)
			}
			if changed {
				fmt.Fprintf(stdout, "hooks: removed agent-trace-hook from %s\n", settings)
			} else {
				fmt.Fprintf(stdout, "hooks: none installed in %s; nothing changed\n", settings)
			}
			return nil
		},
	}
}

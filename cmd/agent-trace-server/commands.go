package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/buildinfo"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func buildVersion() string { return buildinfo.Version(version) }

func envString(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}

func envBool(key string) bool {
	b, _ := strconv.ParseBool(os.Getenv(key))
	return b
}

// storeFlags are what every command that opens the database needs.
type storeFlags struct {
	db                string
	priceFile         string
	postgres          string
	clickhouse        string
	clickhouseCluster string
}

func (f *storeFlags) config() storeConfig {
	return storeConfig{DB: f.db, PriceFile: f.priceFile, Postgres: f.postgres, ClickHouse: f.clickhouse,
		ClickHouseCluster: f.clickhouseCluster}
}

func (f *storeFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.db, "db", envString("SQLITE_DB_PATH", ""), "SQLite database path (env SQLITE_DB_PATH; default ~/.agent-trace/data.db)")
	fs.StringVar(&f.postgres, "postgres", envString("POSTGRES_CONNECTION_STRING", ""), "team store: PostgreSQL connection string, used instead of SQLite (env POSTGRES_CONNECTION_STRING)")
	fs.StringVar(&f.clickhouse, "clickhouse", envString("CLICKHOUSE_URL", ""), "team store: ClickHouse for the event log and cost analytics, clickhouse://[user:pass@]host:9000[,host2:9000…]/db; several hosts fail over (env CLICKHOUSE_URL)")
	fs.StringVar(&f.clickhouseCluster, "clickhouse-cluster", envString("CLICKHOUSE_CLUSTER", ""), "team store: the ClickHouse cluster (remote_servers name) whose shards hold the tables: migrate makes them ON CLUSTER, Replicated and Distributed (env CLICKHOUSE_CLUSTER)")
	fs.StringVar(&f.priceFile, "price-file", envString("AGENT_TRACE_PRICE_FILE", ""), "JSON price table overriding the embedded one (env AGENT_TRACE_PRICE_FILE)")
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	sf := &storeFlags{}
	m := &Main{Stdout: stdout}
	root := &cobra.Command{
		Use:   "agent-trace-server",
		Short: "Self-hosted observability for Claude Code: collector, API and dashboard",
		Long: `agent-trace-server stores what agent-trace-hook captures from Claude Code and shows it.

With no command it serves: the collector (POST /v1/hooks) on 127.0.0.1:8317, the API
(/v1, /openapi.json, /docs) and the MCP server (streamable HTTP at /mcp) on :8318 and the
dashboard on :3100, storing in SQLite.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), m, sf, stderr)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	sf.add(root.PersistentFlags())
	addServeFlags(root.Flags(), m)

	serveCmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the collector, API and dashboard (the default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), m, sf, stderr)
		},
	}
	addServeFlags(serveCmd.Flags(), m)

	root.AddCommand(serveCmd, newMigrateCommand(sf, stdout), newTokenCommand(sf, stdout, stderr), newUserCommand(sf, stdout, stderr),
		newBudgetCommand(sf, stdout), newAlertCommand(sf, stdout),
		newMCPCommand(sf, stdout, stderr), newClickHouseCommand(sf, stdout, stderr), newAuditCommand(sf, stdout),
		newDBCommand(sf, stdout),
		newVersionCommand(stdout))
	return root
}

// newVersionCommand prints the version. It opens no store, so its help leaves out the
// store flags every other command inherits from the root.
func newVersionCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(stdout, "agent-trace-server", buildVersion())
		},
	}
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		fmt.Fprintf(c.OutOrStdout(), "%s\n\nUsage:\n  %s\n", c.Short, c.UseLine())
	})
	return cmd
}

// envList is the comma-separated list in the environment variable key, or nil.
func envList(key string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(key), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func addServeFlags(fs *pflag.FlagSet, m *Main) {
	fs.StringVar(&m.Bind, "bind", envString("AGENT_TRACE_BIND", "127.0.0.1"), "address to listen on (env AGENT_TRACE_BIND)")
	fs.IntVar(&m.CollectorPort, "collector-port", envInt("COLLECTOR_PORT", 8317), "collector port (env COLLECTOR_PORT)")
	fs.IntVar(&m.APIPort, "api-port", envInt("API_PORT", 8318), "API port (env API_PORT)")
	fs.IntVar(&m.DashboardPort, "dashboard-port", envInt("DASHBOARD_PORT", 3100), "dashboard port (env DASHBOARD_PORT)")
	fs.IntVar(&m.OTLPPort, "otlp-port", envInt("OTLP_PORT", 4717), "OTLP receiver port for Claude Code's telemetry, gRPC and HTTP; 0 for none (env OTLP_PORT)")
	fs.IntVar(&m.PrivacyTier, "privacy-tier", envInt("OTEL_PRIVACY_TIER", 2),
		"privacy tier for telemetry received over OTLP: 1 metadata, 2 + prompts and tool details, 3 + responses and tool output (env OTEL_PRIVACY_TIER)")
	fs.IntVar(&m.RetentionDays, "retention-days", envInt("AGENT_TRACE_RETENTION_DAYS", 0), "erase sessions idle for longer than this many days; 0 keeps everything (env AGENT_TRACE_RETENTION_DAYS)")
	fs.IntVar(&m.AuditRetentionDays, "audit-retention-days", envInt("AGENT_TRACE_AUDIT_RETENTION_DAYS", 400),
		"erase audit log entries older than this many days; -1 keeps them for ever, 0 means 400 (env AGENT_TRACE_AUDIT_RETENTION_DAYS)")
	fs.DurationVar(&m.BudgetInterval, "budget-interval", envDuration("AGENT_TRACE_BUDGET_INTERVAL", time.Minute),
		"how often budgets and spin rules are checked and their webhooks fired (env AGENT_TRACE_BUDGET_INTERVAL)")
	fs.StringVar(&m.DashboardURL, "dashboard-url", envString("AGENT_TRACE_DASHBOARD_URL", ""),
		"the dashboard's public address, linked from budget and spin alerts, e.g. https://trace.example.com (env AGENT_TRACE_DASHBOARD_URL)")
	fs.BoolVar(&m.Auth, "auth", envBool("AGENT_TRACE_AUTH"), "require API tokens even before any exists (env AGENT_TRACE_AUTH=1)")
	fs.BoolVar(&m.Insecure, "insecure", false, "allow listening on a non-loopback address without authentication")
	fs.StringSliceVar(&m.TrustedProxies, "trusted-proxies", envList("AGENT_TRACE_TRUSTED_PROXIES"),
		"comma-separated CIDRs or addresses of reverse proxies terminating TLS: from them X-Forwarded-Proto: https marks the dashboard's session cookie Secure (env AGENT_TRACE_TRUSTED_PROXIES)")
	fs.DurationVar(&m.IdleAfter, "idle-after", envDuration("AGENT_TRACE_IDLE_AFTER", agenttrace.DefaultIdleAfter),
		"show a session with no event for this long (and no SessionEnd) as idle (env AGENT_TRACE_IDLE_AFTER)")
	fs.IntVar(&m.MaxConns, "max-conns", envInt("AGENT_TRACE_MAX_CONNS", DefaultMaxConns), "open connections each listener holds at most; more wait (env AGENT_TRACE_MAX_CONNS)")
	fs.IntVar(&m.MaxConnsPerClient, "max-conns-per-client", envInt("AGENT_TRACE_MAX_CONNS_PER_CLIENT", DefaultMaxConnsPerClient),
		"open connections one client address may hold on a listener; more are closed; 0 for no bound, e.g. behind a load balancer (env AGENT_TRACE_MAX_CONNS_PER_CLIENT)")
	fs.Var(newByteSize(&m.MemoryLimit, envString("AGENT_TRACE_MEMORY_LIMIT", DefaultMemoryLimit)), "memory-limit",
		"memory the server aims to stay within, e.g. 512MiB or 1GiB: it sizes SQLite's page caches (a third) and the live sessions' projections (a third), and sets the Go heap's soft limit (two thirds); 0 for no bound (env AGENT_TRACE_MEMORY_LIMIT)")
}

func serve(ctx context.Context, m *Main, sf *storeFlags, stderr io.Writer) error {
	m.DBPath = sf.db
	m.PriceFile = sf.priceFile
	m.Postgres = sf.postgres
	m.ClickHouse = sf.clickhouse
	m.ClickHouseCluster = sf.clickhouseCluster
	m.Version = buildVersion()
	m.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return m.Run(ctx)
}

func newMigrateCommand(sf *storeFlags, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date (serve does this itself for SQLite, not for PostgreSQL/ClickHouse)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openStore(cmd.Context(), sf.config(), true)
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintln(stdout, "database schema is up to date")
			return nil
		},
	}
}

func newTokenCommand(sf *storeFlags, stdout, stderr io.Writer) *cobra.Command {
	tok := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens (creating the first one turns authentication on)",
	}
	create := newTokenCreateCommand(sf, stdout, stderr)

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens, revoked ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openStore(cmd.Context(), sf.config(), false)
			if err != nil {
				return err
			}
			defer s.Close()
			toks, err := s.Tokens(cmd.Context())
			if err != nil {
				return fmt.Errorf("list tokens: %w", err)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tUSER\tTEAM\tCREATED\tLAST USED\tREVOKED")
			for _, t := range toks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, orDash(t.User), orDash(t.Team),
					t.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(t.LastUsedAt), timeOrDash(t.RevokedAt))
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token (it stops working within seconds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd.Context(), sf.config(), false)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.RevokeToken(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("revoke token %s: %w", args[0], err)
			}
			cliAudit(cmd.Context(), s, stderr, agenttrace.AuditEntry{Action: agenttrace.AuditTokenRevoke, Target: args[0]})
			fmt.Fprintf(stdout, "revoked %s\n", args[0])
			return nil
		},
	}
	tok.AddCommand(create, list, revoke)
	return tok
}

// cliAudit records what a command did in the audit log, as actor "cli" with the OS user
// who ran it. The change is made by then; a failure to record it is reported, not fatal.
func cliAudit(ctx context.Context, s agenttrace.AuditLog, stderr io.Writer, e agenttrace.AuditEntry) {
	e.Actor, e.Outcome, e.Time = agenttrace.ActorCLI, agenttrace.AuditOK, time.Now().UTC()
	if u, err := user.Current(); err == nil {
		e.ActorUser = u.Username
	}
	if err := audit.New(s, nil).Record(ctx, e); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

const tokenCreateHelp = `Create a token and print its secret (shown only once).

A token belongs to a user (--user), who is recorded on first use with --team
(see the user command); later tokens of the user take the user's team. Scopes:
  ingest     hooks: events without a user get the token's user; an event naming
             another user, or adding to another user's session, is refused (403)
  read:own   API and dashboard, the token's user's sessions only
  read:team  the sessions of every user of the token's team
  read:all   every session (read is the same, kept for existing tokens)
  admin      everything, and may relay events of any user

The hook's events name the user it was set up with (agent-trace-hook init --user,
default $USER): give an ingest token that same user, or its events are refused.

Tokens without --user ("unbound", as every token made before users existed) keep
working as before: ingest keeps each event's own user, read reads all sessions.
Revoking a token (token revoke) or a user's tokens (user disable) takes effect on
every server within 5 seconds: verified tokens are cached that long. Dashboard
logins made with the token end at once. Both are recorded in the audit log
(audit list).`

func newTokenCreateCommand(sf *storeFlags, stdout, stderr io.Writer) *cobra.Command {
	var name, scope, user, team string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print its secret (shown only once)",
		Long:  tokenCreateHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Checked here too, in the flags' terms and before the database is opened.
			if !auth.ValidScope(scope) {
				return fmt.Errorf("--scope must be one of %s, not %q", strings.Join(auth.Scopes, ", "), scope)
			}
			if name == "" {
				return fmt.Errorf("--name is required")
			}
			s, err := openStore(cmd.Context(), sf.config(), false)
			if err != nil {
				return err
			}
			defer s.Close()
			first, err := noLiveToken(cmd.Context(), s)
			if err != nil {
				return err
			}
			known, err := userKnown(cmd.Context(), s, user)
			if err != nil {
				return err
			}
			// A new user is recorded here; a disabled one gets no token.
			team, err := auth.EnsureUser(cmd.Context(), s, user, team)
			if err != nil {
				return err
			}
			if !known {
				cliAudit(cmd.Context(), s, stderr, agenttrace.AuditEntry{Action: agenttrace.AuditUserCreate, Target: user,
					Detail: "team " + orDash(team) + ", with a token"})
			}
			t, secret, err := auth.Issue(cmd.Context(), s, name, scope, user, team)
			if err != nil {
				return err
			}
			cliAudit(cmd.Context(), s, stderr, agenttrace.AuditEntry{Action: agenttrace.AuditTokenCreate, Target: t.ID,
				Detail: fmt.Sprintf("name %s, scope %s%s", t.Name, t.Scope, owner(t))})
			fmt.Fprintf(stderr, "created token %s (%s, scope %s%s); the secret below is not shown again:\n", t.ID, t.Name, t.Scope, owner(t))
			fmt.Fprintln(stdout, secret)
			if first {
				fmt.Fprint(stderr, authTurnedOn(t.Scope))
			}
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for, e.g. laptop-hook")
	create.Flags().StringVar(&scope, "scope", agenttrace.ScopeRead, "ingest, read:own, read:team, read:all (= read) or admin")
	create.Flags().StringVar(&user, "user", "", "the user the token belongs to (empty: an unbound token, as before users)")
	create.Flags().StringVar(&team, "team", "", "the user's team, for a new user (read:team reads the sessions of the whole team)")
	return create
}

// userKnown reports whether user is recorded already (an empty user, an unbound token,
// counts as known: nothing is recorded for it).
func userKnown(ctx context.Context, s agenttrace.UserStore, user string) (bool, error) {
	if user == "" {
		return true, nil
	}
	users, err := s.Users(ctx)
	if err != nil {
		return false, fmt.Errorf("check user %s: %w", user, err)
	}
	return slices.ContainsFunc(users, func(u agenttrace.User) bool { return u.Name == user }), nil
}

// owner describes whom a token belongs to, for the line that announces it.
func owner(t agenttrace.Token) string {
	switch {
	case t.User == "":
		return ", unbound: no user"
	case t.Team == "":
		return ", user " + t.User
	}
	return ", user " + t.User + ", team " + t.Team
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// noLiveToken reports whether the store holds no live token: creating one then turns
// authentication on for every request.
func noLiveToken(ctx context.Context, s agenttrace.TokenStore) (bool, error) {
	toks, err := s.Tokens(ctx)
	if err != nil {
		return false, fmt.Errorf("list tokens: %w", err)
	}
	for _, t := range toks {
		if t.RevokedAt == nil {
			return false, nil
		}
	}
	return true, nil
}

// authTurnedOn is what the first token changes, and the commands that keep this
// machine's hooks delivering: they send no token and would be refused from now on.
func authTurnedOn(scope string) string {
	msg := "\nAuthentication is now on: every request to the collector, the API and the dashboard needs a token.\n" +
		"Hooks that deliver without a token (agent-trace-hook init's default) are refused with 401 from now on; their events wait in the spool.\n"
	if scope == agenttrace.ScopeIngest || scope == agenttrace.ScopeAdmin {
		return msg + "Keep this machine's hooks delivering with the secret above:\n  agent-trace-hook init --token <the secret above>\n"
	}
	return msg + "Keep this machine's hooks delivering with an ingest token:\n" +
		"  agent-trace-server token create --name laptop-hook --scope ingest\n  agent-trace-hook init --token <that secret>\n"
}

const userHelp = `Manage the users tokens belong to.

A user is a name (the one events carry in "user", e.g. the OS user the hook reports)
and at most one team. token create --user records a new user itself; user create
records one ahead of its tokens, with its team. user disable revokes every token of
the user at once and refuses new ones: every server stops accepting them within
5 seconds (verified tokens are cached that long, as for token revoke; dashboard
logins end at once). The user's sessions stay; delete them with the API if they
must go. Creating and disabling users is recorded in the audit log (audit list).`

func newUserCommand(sf *storeFlags, stdout, stderr io.Writer) *cobra.Command {
	usr := &cobra.Command{Use: "user", Short: "Manage users (list, create, disable)", Long: userHelp}
	var team string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Record a user, optionally in a team (--team)",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, args []string) error {
			if err := s.CreateUser(ctx, agenttrace.User{Name: args[0], Team: team}); err != nil {
				return fmt.Errorf("create user %s: %w", args[0], err)
			}
			cliAudit(ctx, s, stderr, agenttrace.AuditEntry{Action: agenttrace.AuditUserCreate, Target: args[0], Detail: "team " + orDash(team)})
			fmt.Fprintf(stdout, "created user %s%s\n", args[0], map[bool]string{true: " in team " + team}[team != ""])
			return nil
		}),
	}
	create.Flags().StringVar(&team, "team", "", "the user's team (read:team tokens of the team read its users' sessions)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List users with their team, live tokens and whether disabled",
		Args:  cobra.NoArgs,
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, _ []string) error {
			return listUsers(ctx, s, stdout)
		}),
	}
	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a user: revoke all their tokens now (every server within 5 s) and refuse new ones",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, args []string) error {
			n, err := s.DisableUser(ctx, args[0])
			if err != nil {
				return fmt.Errorf("disable user %s: %w", args[0], err)
			}
			cliAudit(ctx, s, stderr, agenttrace.AuditEntry{Action: agenttrace.AuditUserDisable, Target: args[0],
				Detail: fmt.Sprintf("revoked %d token(s)", n), Count: n})
			fmt.Fprintf(stdout, "disabled %s, revoked %d token(s)\n", args[0], n)
			fmt.Fprintln(stderr, "every server refuses the revoked tokens within 5 seconds")
			return nil
		}),
	}
	usr.AddCommand(list, create, disable)
	return usr
}

// withStore runs fn with the store the flags name, closing it afterwards.
func withStore(sf *storeFlags, fn func(ctx context.Context, s agenttrace.Store, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := openStore(cmd.Context(), sf.config(), false)
		if err != nil {
			return err
		}
		defer s.Close()
		return fn(cmd.Context(), s, args)
	}
}

func listUsers(ctx context.Context, s agenttrace.Store, stdout io.Writer) error {
	users, err := s.Users(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	toks, err := s.Tokens(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	live := map[string]int{}
	for _, t := range toks {
		if t.RevokedAt == nil {
			live[t.User]++
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTEAM\tLIVE TOKENS\tCREATED\tDISABLED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", u.Name, orDash(u.Team), live[u.Name],
			u.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(u.DisabledAt))
	}
	return tw.Flush()
}

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

const auditHelp = `Read the audit log, newest first.

The server records token creation and revocation, user creation and disabling,
session deletions, retention runs, dashboard logins and logouts, and refused
requests (401/403 at the API, collector, OTLP receiver and dashboard; written once
a minute, one entry per actor, address, request and reason, COUNT saying how
many). ACTOR is a token ID (with its name and user), "cli" (these commands, with
the OS user) or "system" (the retention worker); "-" is a request without valid
credentials.
Entries older than --audit-retention-days (serve; default 400) are erased.
The API serves the same log at GET /v1/audit to admin tokens.`

func newAuditCommand(sf *storeFlags, stdout io.Writer) *cobra.Command {
	aud := &cobra.Command{Use: "audit", Short: "Read the audit log (list)", Long: auditHelp}
	var action string
	var since time.Duration
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, newest first",
		Long:  auditHelp,
		Args:  cobra.NoArgs,
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, _ []string) error {
			f := agenttrace.AuditFilter{Action: action, Limit: min(max(limit, 1), 200)}
			if since > 0 {
				f.From = time.Now().Add(-since)
			}
			return listAudit(ctx, s, f, limit, stdout)
		}),
	}
	list.Flags().StringVar(&action, "action", "", "only this action: token.create, token.revoke, user.create, user.disable, "+
		"session.delete, retention.run, request.denied, dashboard.login, dashboard.logout")
	list.Flags().DurationVar(&since, "since", 0, "only entries of the last DURATION, e.g. 24h")
	list.Flags().IntVar(&limit, "limit", 100, "entries to show at most")
	aud.AddCommand(list)
	return aud
}

// listAudit prints up to limit entries matching f, following the pages.
func listAudit(ctx context.Context, s agenttrace.AuditLog, f agenttrace.AuditFilter, limit int, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tTARGET\tOUTCOME\tCOUNT\tREMOTE\tDETAIL")
	for shown := 0; shown < limit; {
		page, err := s.Audit(ctx, f)
		if err != nil {
			return fmt.Errorf("list audit: %w", err)
		}
		for _, e := range page.Entries {
			if shown == limit {
				break
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), actor(e), e.Action,
				orDash(e.Target), e.Outcome, e.Count, orDash(e.Remote), orDash(e.Detail))
			shown++
		}
		if f.Cursor = page.NextCursor; f.Cursor == "" {
			break
		}
	}
	return tw.Flush()
}

// actor shows who did it: the token's ID with its name and user, or cli/system.
func actor(e agenttrace.AuditEntry) string {
	var who []string
	for _, s := range []string{e.ActorName, e.ActorUser} {
		if s != "" {
			who = append(who, s)
		}
	}
	if len(who) == 0 {
		return orDash(e.Actor)
	}
	return orDash(e.Actor) + " (" + strings.Join(who, ", ") + ")"
}

// Package export streams what the store holds as CSV or JSON Lines, for spreadsheets,
// billing and other tools: sessions, prompts, tool calls, commits and daily cost. Rows go
// out page by page as the store returns them, so memory stays flat however much is
// exported, and every read goes through the store's read ports with the caller's
// context, so a token's read scope narrows an export exactly as it narrows the API.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Reader is the part of the store an export reads.
type Reader interface {
	ListSessions(ctx context.Context, f agenttrace.SessionFilter) (agenttrace.SessionPage, error)
	Session(ctx context.Context, id string) (*agenttrace.Session, error)
	Commits(ctx context.Context, f agenttrace.CommitFilter) (agenttrace.CommitPage, error)
	DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]agenttrace.DailyCost, error)
}

// Formats.
const (
	CSV   = "csv"
	JSONL = "jsonl"
)

// Request says what to export. Sessions selects the sessions whose rows the sessions,
// prompts and tool_calls tables hold (its Cursor and Limit are ignored); commits use
// Sessions' From, To, Repo and User; cost_daily uses From, To and GroupBy.
type Request struct {
	Table    string
	Format   string
	Sessions agenttrace.SessionFilter
	GroupBy  string // cost_daily: agenttrace.GroupBy*; "" means by model
}

// pageSize is how many sessions or commits one store read returns.
const pageSize = 200

// exporter writes one table's rows to a row writer.
type exporter interface {
	columns() []string
	rows(ctx context.Context, r Reader, req Request, w rowWriter) error
}

// tables are the exportable tables by name.
var tables = map[string]exporter{
	"sessions":   sessionTable,
	"prompts":    promptTable,
	"tool_calls": toolCallTable,
	"commits":    commitTable,
	"cost_daily": costTable,
}

// Tables names the exportable tables, sorted.
func Tables() []string {
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ErrInvalid wraps agenttrace.ErrInvalid for an unknown table or format.
var ErrInvalid = agenttrace.ErrInvalid

// Check refuses an unknown table or format before anything is written.
func Check(req Request) error {
	if _, ok := tables[req.Table]; !ok {
		return fmt.Errorf("%w: unknown export table %q (one of %v)", ErrInvalid, req.Table, Tables())
	}
	if !slices.Contains([]string{CSV, JSONL}, req.Format) {
		return fmt.Errorf("%w: unknown export format %q (csv or jsonl)", ErrInvalid, req.Format)
	}
	return nil
}

// ContentType is the media type of an export in format.
func ContentType(format string) string {
	if format == JSONL {
		return "application/x-ndjson; charset=utf-8"
	}
	return "text/csv; charset=utf-8"
}

// Write streams the requested table to out: a CSV header row then one row per record,
// or one JSON object per line with the same names. Rows are buffered, up to a few tens of
// KiB; a store error ends the stream early and is returned, and what was flushed before
// it stays written (nothing at all, when the export fails before the first flush).
func Write(ctx context.Context, out io.Writer, r Reader, req Request) error {
	if err := Check(req); err != nil {
		return err
	}
	t := tables[req.Table]
	w := newRowWriter(out, req.Format, t.columns())
	if err := w.header(); err != nil {
		return fmt.Errorf("export %s: %w", req.Table, err)
	}
	if err := t.rows(ctx, r, req, w); err != nil {
		return fmt.Errorf("export %s: %w", req.Table, err)
	}
	if err := w.flush(); err != nil {
		return fmt.Errorf("export %s: %w", req.Table, err)
	}
	return nil
}

// eachSession calls fn for every session summary req selects, page by page.
func eachSession(ctx context.Context, r Reader, f agenttrace.SessionFilter, fn func(agenttrace.SessionSummary) error) error {
	f.Cursor, f.Limit = "", pageSize
	for {
		page, err := r.ListSessions(ctx, f)
		if err != nil {
			return err
		}
		for _, s := range page.Sessions {
			if err := fn(s); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
	}
}

// eachSessionDetail calls fn with the full record of every session f selects; a session
// erased while the export runs is skipped.
func eachSessionDetail(ctx context.Context, r Reader, f agenttrace.SessionFilter, fn func(*agenttrace.Session) error) error {
	return eachSession(ctx, r, f, func(sum agenttrace.SessionSummary) error {
		s, err := r.Session(ctx, sum.ID)
		if errors.Is(err, agenttrace.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(s)
	})
}

package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Where builds a WHERE clause. Conditions are written with "?" for each argument;
// Dollar numbers them ($1, $2, …) as PostgreSQL wants.
type Where struct {
	Dollar bool
	conds  []string
	Args   []any
}

// Add appends a condition in which every "?" is the next argument.
func (w *Where) Add(cond string, args ...any) {
	for _, a := range args {
		w.Args = append(w.Args, a)
		if w.Dollar {
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.Args)), 1)
		}
	}
	w.conds = append(w.conds, cond)
}

// Dollars numbers the "?" placeholders of q as $1, $2, … for PostgreSQL.
func Dollars(q string) string {
	w := Where{Dollar: true}
	w.Add(q, make([]any, strings.Count(q, "?"))...)
	return w.conds[0]
}

// SQL is " WHERE c1 AND c2 …", or "" without conditions.
func (w *Where) SQL() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// TimeRange adds [from, to) on col, in Unix milliseconds; a zero end is open.
func (w *Where) TimeRange(col string, from, to time.Time) {
	if !from.IsZero() {
		w.Add(col+" >= ?", from.UnixMilli())
	}
	if !to.IsZero() {
		w.Add(col+" < ?", to.UnixMilli())
	}
}

// Visible adds the restriction agenttrace.WithVisibleUsers put on ctx, if any: userCol
// (the user column as the dialect quotes it) is one of the visible users, or no row at
// all when none is. Every read of a store calls it, so a read scope narrower than
// read:all holds in every listing, detail and total alike.
func Visible(ctx context.Context, w *Where, userCol string) {
	users, restricted := agenttrace.VisibleUsers(ctx)
	if !restricted {
		return
	}
	if len(users) == 0 {
		w.Add("1 = 0")
		return
	}
	args := make([]any, len(users))
	for i, u := range users {
		args[i] = u
	}
	w.Add(userCol+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(users)), ", ")+")", args...)
}

// VisibleSessions restricts the rows of a table without a user column (sessionCol names
// their session) to the sessions of the visible users on ctx, as Visible does.
func VisibleSessions(ctx context.Context, w *Where, userCol, sessionCol string) {
	var plain Where // "?" placeholders: w.Add numbers them after w's own
	Visible(ctx, &plain, userCol)
	if len(plain.conds) == 0 {
		return
	}
	w.Add(sessionCol+" IN (SELECT id FROM sessions WHERE "+strings.Join(plain.conds, " AND ")+")", plain.Args...)
}

// RangeWhere is "WHERE" and [from, to) on col in Unix milliseconds, with "?"
// placeholders, and its arguments; "" and none for an open range.
func RangeWhere(col string, from, to time.Time) (string, []any) {
	var w Where
	w.TimeRange(col, from, to)
	return strings.TrimPrefix(w.SQL(), " "), w.Args
}

// SessionPlan is the dialect-free part of a session listing: page size, sort column
// and direction.
type SessionPlan struct {
	Limit    int
	Col      string // the sessions column sorted on
	Sort     string // the sort's name, as cursors carry it
	Float    bool   // whether Col is a float
	Desc     bool
	Cmp, Dir string // keyset comparison and ORDER BY direction
}

// PlanSessions checks a session filter's limit, sort and status and returns the plan.
// Errors wrap agenttrace.ErrInvalid.
func PlanSessions(f agenttrace.SessionFilter) (SessionPlan, error) {
	var p SessionPlan
	limit, err := PageLimit(f.Limit, DefaultLimit, MaxLimit)
	if err != nil {
		return p, err
	}
	p.Limit = limit
	switch f.Sort {
	case "", "started_at":
		p.Col = "started_ms"
	case "cost":
		p.Col, p.Float = "cost_key", true
	case "duration":
		p.Col = "duration_ms"
	default:
		return p, fmt.Errorf("%w: unknown sort %q", agenttrace.ErrInvalid, f.Sort)
	}
	switch f.Status {
	case "", agenttrace.StatusActive, agenttrace.StatusIdle, agenttrace.StatusEnded:
	default:
		return p, fmt.Errorf("%w: unknown status %q", agenttrace.ErrInvalid, f.Status)
	}
	p.Sort = f.Sort
	if p.Sort == "" {
		p.Sort = "started_at"
	}
	p.Desc = f.Desc
	p.Cmp, p.Dir = ">", "ASC"
	if f.Desc {
		p.Cmp, p.Dir = "<", "DESC"
	}
	return p, nil
}

// SessionConds adds a session filter's field conditions (not the text query, whose
// plan is the dialect's, nor the cursor: see SessionPlan.After). userCol is the user
// column as the dialect quotes it; idleCutoff is when an active session's last event
// must be to read as idle (zero: never).
func SessionConds(w *Where, f agenttrace.SessionFilter, userCol string, idleCutoff time.Time) {
	w.TimeRange("started_ms", f.From, f.To)
	if f.User != "" {
		w.Add(userCol+" = ?", f.User)
	}
	if f.Repo != "" {
		w.Add("repo = ?", f.Repo)
	}
	statusConds(w, f.Status, idleCutoff)
	if f.Branch != "" {
		w.Add("EXISTS (SELECT 1 FROM session_facets sf WHERE sf.facet = 'branch' AND sf.value = ? AND sf.session_id = sessions.id)", f.Branch)
	}
	if f.Model != "" {
		w.Add("EXISTS (SELECT 1 FROM session_facets sf WHERE sf.facet = 'model' AND sf.value = ? AND sf.session_id = sessions.id)", f.Model)
	}
	if file := strings.TrimPrefix(f.File, "./"); file != "" {
		// agenttrace.PathMatches in SQL both dialects run alike: the path itself, or one
		// ending in "/" + file (substr and length count characters in both).
		suffix := "/" + file
		w.Add(`EXISTS (SELECT 1 FROM session_facets sf WHERE sf.facet = 'file' AND sf.session_id = sessions.id
			AND (sf.value = ? OR substr(sf.value, length(sf.value) - ? + 1) = ?))`, file, utf8.RuneCountInString(suffix), suffix)
	}
	if f.HasCommits != nil {
		if *f.HasCommits {
			w.Add("commit_count > 0")
		} else {
			w.Add("commit_count = 0")
		}
	}
}

// After adds the keyset condition of a cursor from an earlier page of the same plan.
func (p SessionPlan) After(w *Where, cursor string, kind KeyKind) error {
	c, err := DecodeCursor(cursor, 1)
	if err != nil {
		return err
	}
	if c.Sort != p.Sort || c.Desc != p.Desc {
		return fmt.Errorf("%w: cursor is for another sort order", agenttrace.ErrInvalid)
	}
	k, err := c.KeyValue(kind)
	if err != nil {
		return err
	}
	w.Add(fmt.Sprintf("(%s, id) %s (?, ?)", p.Col, p.Cmp), k, c.IDs[0])
	return nil
}

// Next is the cursor of the page after the row with sort key key (exact text) and id.
func (p SessionPlan) Next(key string, float bool, id string) string {
	return Cursor{Sort: p.Sort, Desc: p.Desc, Key: key, Float: float, IDs: []string{id}}.Encode()
}

// GitConds adds a commit or pull request filter's conditions, cursor included, and
// returns the page size. timeCol and keyCol are the table's time and unique key columns
// (sorted on, newest first, with session_id); userCol is the user column as the dialect
// quotes it; kind is how strictly the cursor key is read.
func GitConds(w *Where, f agenttrace.CommitFilter, timeCol, keyCol, userCol string, kind KeyKind) (int, error) {
	limit, err := PageLimit(f.Limit, DefaultLimit, MaxLimit)
	if err != nil {
		return 0, err
	}
	w.TimeRange(timeCol, f.From, f.To)
	if f.Repo != "" {
		w.Add("repo = ?", f.Repo)
	}
	if f.User != "" {
		w.Add(userCol+" = ?", f.User)
	}
	if f.SessionID != "" {
		w.Add("session_id = ?", f.SessionID)
	}
	if f.SHA != "" && keyCol == "sha" {
		if !agenttrace.ValidSHAPrefix(f.SHA) {
			return 0, fmt.Errorf("%w: sha %q: want 4 to 40 hex digits", agenttrace.ErrInvalid, f.SHA)
		}
		prefix := strings.ToLower(f.SHA)
		w.Add("substr(sha, 1, ?) = ?", len(prefix), prefix)
	}
	if f.Cursor != "" {
		c, err := DecodeCursor(f.Cursor, 2)
		if err != nil {
			return 0, err
		}
		k, err := c.KeyValue(kind)
		if err != nil {
			return 0, err
		}
		w.Add(fmt.Sprintf("(%s, %s, session_id) < (?, ?, ?)", timeCol, keyCol), k, c.IDs[0], c.IDs[1])
	}
	return limit, nil
}

// statusConds selects by status as it reads: idle is stored as active, with its last
// event before the cutoff.
func statusConds(w *Where, status string, idleCutoff time.Time) {
	switch {
	case status == "":
	case idleCutoff.IsZero() || status == agenttrace.StatusEnded:
		w.Add("status = ?", status)
	case status == agenttrace.StatusActive:
		w.Add("status = ? AND last_event_ms >= ?", agenttrace.StatusActive, idleCutoff.UnixMilli())
	case status == agenttrace.StatusIdle:
		w.Add("status = ? AND last_event_ms < ?", agenttrace.StatusActive, idleCutoff.UnixMilli())
	}
}

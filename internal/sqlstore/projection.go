package sqlstore

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// SessionRow is what the sessions table holds of a projected session beyond its plain
// fields: the encoded summary and detail, the end time and the cost sort key.
type SessionRow struct {
	Summary, Detail []byte
	EndedMS         *int64  // nil while the session is active
	CostKey         float64 // the cost, or -1 when unpriced, so unpriced sessions sort first
}

// NewSessionRow encodes a projected session for the sessions table.
func NewSessionRow(sess *agenttrace.Session) (SessionRow, error) {
	var r SessionRow
	var err error
	if r.Summary, err = json.Marshal(sess.SessionSummary); err != nil {
		return r, fmt.Errorf("encode summary: %w", err)
	}
	// Prompts, commits and pull requests have rows of their own, each written when it
	// changes (SessionWrite).
	head := *sess
	head.Prompts, head.Commits, head.PullRequests = nil, nil, nil
	if r.Detail, err = json.Marshal(&head); err != nil {
		return r, fmt.Errorf("encode session: %w", err)
	}
	if sess.EndedAt != nil {
		ms := sess.EndedAt.UnixMilli()
		r.EndedMS = &ms
	}
	r.CostKey = -1
	if sess.CostUSD != nil {
		r.CostKey = *sess.CostUSD
	}
	return r, nil
}

// Facet is one session_facets row: a value a session can be filtered by.
type Facet struct{ Facet, Value string }

// MaxFacetBytes bounds a file facet's value.
const MaxFacetBytes = 1024

// Facets lists a session's facets once each, in order: its models, every branch it was
// on, and every file it touched (agenttrace.TouchedFiles), which the file filter reads.
func Facets(sess *agenttrace.Session) []Facet {
	set := map[Facet]bool{}
	add := func(f Facet) {
		if f.Value != "" {
			set[f] = true
		}
	}
	for _, f := range agenttrace.TouchedFiles(sess) {
		add(fileFacet(f))
	}
	eachScalarFacet(sess, add)
	out := make([]Facet, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Facet != out[j].Facet {
			return out[i].Facet < out[j].Facet
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// fileFacet is a file's facet; its value is empty (no facet) for a path longer than any
// real one, which would only risk an index's entry size limit (PostgreSQL's B-tree) and
// fail the whole ingest.
func fileFacet(path string) Facet {
	if len(path) > MaxFacetBytes {
		return Facet{}
	}
	return Facet{"file", path}
}

// eachScalarFacet calls fn with the session's model and branch facets.
func eachScalarFacet(sess *agenttrace.Session, fn func(Facet)) {
	for _, m := range sess.Models {
		fn(Facet{"model", m})
	}
	for _, b := range sess.Branches {
		fn(Facet{"branch", b})
	}
	fn(Facet{"branch", sess.Branch})
}

// eachFile calls fn with the file of every call in calls and their children, as
// agenttrace.TouchedFiles walks them.
func eachFile(calls []agenttrace.ToolCall, fn func(string)) {
	for _, c := range calls {
		if c.FilePath != "" {
			fn(c.FilePath)
		}
		eachFile(c.Children, fn)
	}
}

// GitRow is one commits or pull_requests row: the unique key (SHA, or PRKey), the time
// listings sort by, the repo and user filtered on, and the encoded record.
type GitRow struct {
	Key        string
	TimeMS     int64
	Repo, User string
	Body       []byte
}

// CommitRows are the commits rows of a session's commits cs; a commit without its own
// repo or user has the session's.
func CommitRows(sess *agenttrace.Session, cs []agenttrace.Commit) ([]GitRow, error) {
	out := make([]GitRow, 0, len(cs))
	for _, c := range cs {
		body, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode commit: %w", err)
		}
		out = append(out, GitRow{Key: c.SHA, TimeMS: c.CommittedAt.UnixMilli(), Repo: firstNonEmpty(c.Repo, sess.Repo),
			User: firstNonEmpty(c.User, sess.User), Body: body})
	}
	return out, nil
}

// PullRequestRows are the pull_requests rows of a session's pull requests ps; a pull
// request without its own user has the session's.
func PullRequestRows(sess *agenttrace.Session, ps []agenttrace.PullRequest) ([]GitRow, error) {
	out := make([]GitRow, 0, len(ps))
	for _, p := range ps {
		body, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode pull request: %w", err)
		}
		out = append(out, GitRow{Key: PRKey(p), TimeMS: p.SeenAt.UnixMilli(), Repo: p.Repo,
			User: firstNonEmpty(p.User, sess.User), Body: body})
	}
	return out, nil
}

// PRKey is a pull request's unique key: forge/repo#number.
func PRKey(p agenttrace.PullRequest) string {
	return fmt.Sprintf("%s/%s#%d", p.Forge, p.Repo, p.Number)
}

// UsageFact is one usage_facts row: one priced API response a session counts.
type UsageFact struct {
	EventID, SessionID string
	TimeMS             int64
	SessionStartedMS   int64
	Model, User, Repo  string
	Usage              agenttrace.Usage
	CostUSD            *float64 // nil when the model could not be priced
}

// UsageFacts are the usage_facts rows of a projected session; they carry the session's
// repo.
func UsageFacts(sess *agenttrace.Session, usages []agenttrace.PricedUsage) []UsageFact {
	out := make([]UsageFact, len(usages))
	for i, pu := range usages {
		out[i] = UsageFact{EventID: pu.EventID, SessionID: sess.ID, TimeMS: pu.Time.UnixMilli(),
			SessionStartedMS: sess.StartedAt.UnixMilli(), Model: pu.Model, User: pu.User, Repo: sess.Repo,
			Usage: pu.Usage, CostUSD: pu.CostUSD}
	}
	return out
}

// Equal reports whether two facts hold the same values (costs compared by value).
func (a UsageFact) Equal(b UsageFact) bool {
	if (a.CostUSD == nil) != (b.CostUSD == nil) || (a.CostUSD != nil && *a.CostUSD != *b.CostUSD) {
		return false
	}
	a.CostUSD, b.CostUSD = nil, nil
	return a == b
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

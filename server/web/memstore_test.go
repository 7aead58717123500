package web

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/server"
)

// memStore serves hand-made sessions through the server.Store contract. It exists only
// until the SQLite store lands in the tree; the queries it answers are the dashboard's.
type memStore struct {
	mu       sync.Mutex
	sessions map[string]*server.Session
}

var _ server.Store = (*memStore)(nil)

func newMemStore(ss ...*server.Session) *memStore {
	m := &memStore{sessions: map[string]*server.Session{}}
	for _, s := range ss {
		m.put(s)
	}
	return m
}

func (m *memStore) put(s *server.Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID] = s
}

func (m *memStore) Ingest(ctx context.Context, events []event.Event) (server.IngestResult, error) {
	return server.IngestResult{}, errors.New("memStore: ingest not supported")
}

func (m *memStore) ListSessions(ctx context.Context, f server.SessionFilter) (server.SessionPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []server.SessionSummary
	for _, s := range m.sessions {
		switch {
		case !f.From.IsZero() && s.StartedAt.Before(f.From),
			!f.To.IsZero() && !s.StartedAt.Before(f.To),
			f.User != "" && s.User != f.User,
			f.Repo != "" && s.Repo != f.Repo,
			f.Status != "" && s.Status != f.Status,
			f.HasCommits != nil && (s.CommitCount > 0) != *f.HasCommits:
			continue
		}
		if f.Query != "" {
			hit := false
			for _, p := range s.Prompts {
				hit = hit || strings.Contains(strings.ToLower(p.Text), strings.ToLower(f.Query))
			}
			if !hit {
				continue
			}
		}
		out = append(out, s.SessionSummary)
	}
	key := func(s server.SessionSummary) float64 {
		switch f.Sort {
		case "cost":
			if s.CostUSD == nil {
				return -1
			}
			return *s.CostUSD
		case "duration":
			return float64(s.DurationMS)
		}
		return float64(s.StartedAt.UnixNano())
	}
	sort.SliceStable(out, func(i, j int) bool {
		if f.Desc {
			return key(out[i]) > key(out[j])
		}
		return key(out[i]) < key(out[j])
	})
	off, _ := strconv.Atoi(f.Cursor)
	if off > len(out) {
		off = len(out)
	}
	out = out[off:]
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	pg := server.SessionPage{Sessions: out}
	if len(out) > limit {
		pg.Sessions = out[:limit]
		pg.NextCursor = strconv.Itoa(off + limit)
	}
	return pg, nil
}

func (m *memStore) Session(ctx context.Context, id string) (*server.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return nil, server.ErrNotFound
	}
	c := *s
	return &c, nil
}

func (m *memStore) Events(ctx context.Context, sessionID, cursor string, limit int) (server.EventPage, error) {
	return server.EventPage{}, nil
}

func (m *memStore) Commits(ctx context.Context, f server.CommitFilter) (server.CommitPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []server.Commit
	for _, s := range m.sessions {
		for _, c := range s.Commits {
			if f.Repo == "" || c.Repo == f.Repo {
				out = append(out, c)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CommittedAt.After(out[j].CommittedAt) })
	return server.CommitPage{Commits: out}, nil
}

func (m *memStore) PullRequests(ctx context.Context, f server.CommitFilter) (server.PullRequestPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []server.PullRequest
	for _, s := range m.sessions {
		out = append(out, s.PullRequests...)
	}
	return server.PullRequestPage{PullRequests: out}, nil
}

func (m *memStore) DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]server.DailyCost, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	agg := map[[2]string]float64{}
	for _, s := range m.sessions {
		if s.StartedAt.Before(from) || !s.StartedAt.Before(to) || s.CostUSD == nil {
			continue
		}
		key := s.ID
		if groupBy == server.GroupByModel && len(s.Models) > 0 {
			key = s.Models[0]
		}
		agg[[2]string{s.StartedAt.UTC().Format("2006-01-02"), key}] += *s.CostUSD
	}
	var out []server.DailyCost
	for k, v := range agg {
		out = append(out, server.DailyCost{Day: k[0], Key: k[1], CostUSD: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day+out[i].Key < out[j].Day+out[j].Key })
	return out, nil
}

func (m *memStore) Summary(ctx context.Context, from, to time.Time) (server.Summary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum server.Summary
	for _, s := range m.sessions {
		if s.StartedAt.Before(from) || !s.StartedAt.Before(to) {
			continue
		}
		sum.Sessions++
		sum.Prompts += s.PromptCount
		sum.Commits += s.CommitCount
		sum.Usage = sum.Usage.Add(s.Usage)
		if s.CostUSD != nil {
			sum.CostUSD += *s.CostUSD
		}
	}
	if sum.Commits > 0 {
		c := sum.CostUSD / float64(sum.Commits)
		sum.CostPerCommitUSD = &c
	}
	return sum, nil
}

func (m *memStore) DeleteSession(ctx context.Context, id string) error         { return nil }
func (m *memStore) DeleteBefore(ctx context.Context, t time.Time) (int, error) { return 0, nil }
func (m *memStore) CreateToken(ctx context.Context, t server.Token, h string) error {
	return nil
}
func (m *memStore) Tokens(ctx context.Context) ([]server.Token, error) { return nil, nil }
func (m *memStore) RevokeToken(ctx context.Context, id string) error   { return nil }
func (m *memStore) TokenBySecretHash(ctx context.Context, h string) (*server.Token, error) {
	return nil, server.ErrNotFound
}
func (m *memStore) Ping(ctx context.Context) error { return nil }
func (m *memStore) Close() error                   { return nil }

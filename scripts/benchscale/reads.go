package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// ReadRow is one endpoint's latencies, in milliseconds.
type ReadRow struct {
	Name string  `json:"name"`
	Path string  `json:"path"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
}

// endpoints are the API's reads and the dashboard's pages over the seeded 90 days, for
// one of the seeded sessions and its user and repository.
func endpoints(s *server, sess agenttrace.SessionSummary) [][3]string {
	from, to := storetest.GenEnd.AddDate(0, 0, -90), storetest.GenEnd.AddDate(0, 0, 1)
	rng := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	days := url.Values{"from": {from.Format(time.DateOnly)}, "to": {to.Format(time.DateOnly)}}.Encode()
	api, web := s.api, s.dashboard
	return [][3]string{
		{"api sessions", api, "/v1/sessions?limit=50"},
		{"api sessions by cost", api, "/v1/sessions?limit=50&sort=cost&" + rng},
		{"api session", api, "/v1/sessions/" + sess.ID},
		{"api session events", api, "/v1/sessions/" + sess.ID + "/events"},
		{"api summary", api, "/v1/analytics/summary?" + rng},
		{"api daily cost", api, "/v1/analytics/cost/daily?" + rng},
		{"api breakdown user", api, "/v1/analytics/breakdown?by=user&" + rng},
		{"api breakdown branch", api, "/v1/analytics/breakdown?by=branch&" + rng},
		{"api tools", api, "/v1/analytics/tools?" + rng},
		{"api commits", api, "/v1/commits?" + rng},
		{"web sessions", web, "/"},
		{"web costs", web, "/costs?" + days},
		{"web people", web, "/people?" + days},
		{"web teams", web, "/people?by=team&" + days},
		{"web repos", web, "/repos?by=branch&" + days},
		{"web tools", web, "/tools?" + days},
		{"web person", web, "/people/" + url.PathEscape(sess.User) + "?" + days},
		{"web repo", web, "/repos/" + sess.Repo + "?" + days},
		{"web session", web, "/sessions/" + sess.ID},
		{"web git", web, "/git"},
	}
}

// newestSession is the API's newest session.
func newestSession(ctx context.Context, api string) (agenttrace.SessionSummary, error) {
	var page agenttrace.SessionPage
	b, err := get(ctx, api+"/v1/sessions?limit=1")
	if err == nil {
		err = json.Unmarshal(b, &page)
	}
	if err == nil && len(page.Sessions) == 0 {
		err = fmt.Errorf("no sessions")
	}
	if err != nil {
		return agenttrace.SessionSummary{}, fmt.Errorf("list sessions: %w", err)
	}
	return page.Sessions[0], nil
}

func get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, err
}

// reads times n requests of each endpoint, one at a time.
func reads(ctx context.Context, s *server, n int) ([]ReadRow, error) {
	sess, err := newestSession(ctx, s.api)
	if err != nil {
		return nil, err
	}
	var out []ReadRow
	for _, ep := range endpoints(s, sess) {
		ds := make([]time.Duration, 0, n)
		for range n {
			start := time.Now()
			if _, err := get(ctx, ep[1]+ep[2]); err != nil {
				return nil, err
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		out = append(out, ReadRow{Name: ep[0], Path: ep[2], P50: rank(ds, 50), P95: rank(ds, 95), P99: rank(ds, 99)})
	}
	return out, nil
}

// rank is the p-th percentile of sorted (nearest rank), in milliseconds.
func rank(sorted []time.Duration, p int) float64 {
	return float64(sorted[max((p*len(sorted)+99)/100, 1)-1].Microseconds()) / 1000
}

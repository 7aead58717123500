package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/api"
	"github.com/agent-trace/agent-trace/internal/live"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

func benchServer(b *testing.B) (*httptest.Server, *api.API, *sqlite.Store) {
	b.Helper()
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	hub := live.New()
	a := api.New(s, hub, api.Options{})
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(func() {
		hub.Close()
		srv.Close()
		a.Close()
		s.Close()
	})
	return srv, a, s
}

// BenchmarkHTTPIngest posts batches of 500 new events (one generated session each) over
// real HTTP into SQLite, as one deliverer does, and reports events per second.
// With "watched", a live stream client is connected, so every batch's changes are also
// computed and published.
func BenchmarkHTTPIngest(b *testing.B) {
	b.Run("unwatched", func(b *testing.B) { benchIngest(b, false) })
	b.Run("watched", func(b *testing.B) { benchIngest(b, true) })
}

func benchIngest(b *testing.B, watched bool) {
	srv, _, _ := benchServer(b)
	client := srv.Client()
	if watched {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/stream", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	var bodies [][]byte
	seed := int64(1)
	next := func() []byte {
		if len(bodies) == 0 {
			for _, evs := range storetest.Generate(seed, 50, 500) {
				body, _ := json.Marshal(event.Batch{Events: evs})
				bodies = append(bodies, body)
			}
			seed++
		}
		body := bodies[0]
		bodies = bodies[1:]
		return body
	}
	next() // generate outside the timer
	bodies = nil
	seed = 1
	events := 0
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		body := next()
		b.StartTimer()
		resp, err := client.Post(srv.URL+"/v1/hooks", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		events += 500
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkHTTPGet measures GET /v1/sessions and GET /v1/sessions/{id} (a 2,000-event
// session) over real HTTP and reports their p95. The stored volume is
// AT_BENCH_SESSIONS sessions of 100 events (default 1,000; the target volume
// is 10,000 sessions / 1,000,000 events: AT_BENCH_SESSIONS=10000 AT_BENCH_EVENTS=100).
func BenchmarkHTTPGet(b *testing.B) {
	n := envInt("AT_BENCH_SESSIONS", 1000)
	per := envInt("AT_BENCH_EVENTS", 100)
	srv, _, s := benchServer(b)
	ctx := context.Background()
	// Generated in chunks so a million events never sit in memory at once.
	for done := 0; done < n; done += 100 {
		var batch []event.Event
		for _, evs := range storetest.Generate(int64(1000+done), min(100, n-done), per) {
			batch = append(batch, evs...)
			if len(batch) >= 1000 {
				if _, err := s.Ingest(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			if _, err := s.Ingest(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	big := storetest.Generate(43, 1, 2000)[0]
	for off := 0; off < len(big); off += 1000 {
		if _, err := s.Ingest(ctx, big[off:min(off+1000, len(big))]); err != nil {
			b.Fatal(err)
		}
	}
	client := srv.Client()
	for _, c := range []struct{ name, path string }{
		{"list", "/v1/sessions?limit=50"},
		{"list-filtered", "/v1/sessions?limit=50&user=" + storetest.GenUsers[0] + "&sort=cost"},
		{"session-2000-events", "/v1/sessions/" + big[0].SessionID},
	} {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				resp, err := client.Get(srv.URL + c.path)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

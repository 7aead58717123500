package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A small run end to end: it builds and starts the server, seeds it, measures every
// row, prints the table, writes the JSON, and compares with that JSON on a second run.
func TestBenchScaleSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "result.json")
	o := options{Events: 2000, Phase: 400, Requests: 3, Out: out, Dir: filepath.Join(dir, "run")}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	o.Server = buildOnce(t, dir)
	printed := runTo(t, o)
	var res Result
	b, err := os.ReadFile(out)
	if err == nil {
		err = json.Unmarshal(b, &res)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 2000 || len(res.Ingest) != 3 || len(res.Reads) != 20 || res.FloorPS <= 0 || res.Disk.BytesPerEvent <= 0 || res.RSS.PeakBytes <= 0 {
		t.Errorf("result lacks rows: %+v", res)
	}
	for _, r := range res.Ingest {
		if r.EventsPS <= 0 || r.CPUPerEvUS <= 0 {
			t.Errorf("ingest row %+v", r)
		}
	}
	for _, want := range []string{"batches of 500", "bare SQLite insert (floor)", "web tools", "bytes per event"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the table lacks %q:\n%s", want, printed)
		}
	}
	// A second run against the first shows ratios.
	o.Compare, o.Out, o.Dir = out, filepath.Join(dir, "second.json"), filepath.Join(dir, "run2")
	os.MkdirAll(o.Dir, 0o755)
	if again := runTo(t, o); !strings.Contains(again, "×") {
		t.Errorf("no ratios against the earlier run:\n%s", again)
	}
}

func buildOnce(t *testing.T, dir string) string {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(filepath.Join(wd, "..", "..")); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	bin, err := buildServer(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func runTo(t *testing.T, o options) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), o, f); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

// The original's rows: one envelope per request, each with the fields its collector's
// validator requires (schema 1.0), every event sent once.
func TestDriveOriginalSendsEnvelopes(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env map[string]any
		if r.URL.Path != "/v1/hooks" || json.NewDecoder(r.Body).Decode(&env) != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		for _, k := range []string{"schemaVersion", "source", "eventId", "sessionId", "eventType", "eventTimestamp", "ingestedAt", "privacyTier", "payload"} {
			if env[k] == nil || env[k] == "" {
				http.Error(w, "missing "+k, http.StatusBadRequest)
				return
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, env["eventTimestamp"].(string)); err != nil || env["schemaVersion"] != "1.0" {
			http.Error(w, "bad envelope", http.StatusBadRequest)
			return
		}
		mu.Lock()
		seen[env["eventId"].(string)] = true
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	rows, err := driveOriginal(t.Context(), options{Phase: 800, Original: srv.URL + "/v1/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Batch != 1 || rows[0].EventsPS <= 0 || len(seen) != len(flatten(phaseSessions(800, 4, 9_000_000))) {
		t.Errorf("rows %+v, %d events seen", rows, len(seen))
	}
}

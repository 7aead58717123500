package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/agent-trace/agent-trace/event"
)

func testEvent(i, tier int, payload string) event.Event {
	return event.Event{
		ID:        fmt.Sprintf("evt_%03d", i),
		Kind:      event.KindHook,
		SessionID: "s1",
		Time:      time.Date(2026, 11, 25, 12, 0, i, 0, time.UTC),
		Tier:      tier,
		HookEvent: "PostToolUse",
		Payload:   json.RawMessage(payload),
	}
}

func mustOpen(tb testing.TB, path string, opts Options) *Spool {
	tb.Helper()
	s, err := Open(path, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func ids(items []Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Event.ID)
	}
	return out
}

func TestAppendPeekAckKeepsOrder(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), FileName), Options{})
	for i := range 5 {
		if _, err := s.Append(testEvent(i, 2, `{"n":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	items, err := s.Peek(3, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ids(items), ","), "evt_000,evt_001,evt_002"; got != want {
		t.Fatalf("peek = %s, want %s", got, want)
	}
	// Peeking again without an ack returns the same events: nothing is lost before a 2xx.
	again, _ := s.Peek(3, 1<<20)
	if got, want := strings.Join(ids(again), ","), "evt_000,evt_001,evt_002"; got != want {
		t.Fatalf("second peek = %s, want %s", got, want)
	}
	if err := s.Ack(items[0].Key, items[1].Key); err != nil {
		t.Fatal(err)
	}
	rest, _ := s.Peek(10, 1<<20)
	if got, want := strings.Join(ids(rest), ","), "evt_002,evt_003,evt_004"; got != want {
		t.Fatalf("after ack = %s, want %s", got, want)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 3 || st.DeliveredEvents != 2 || st.LastDelivery.IsZero() {
		t.Fatalf("stats = %+v, want 3 pending, 2 delivered, a delivery time", st)
	}
	if want := testEvent(2, 2, "").Time; !st.OldestPending.Equal(want) {
		t.Fatalf("oldest pending = %v, want %v", st.OldestPending, want)
	}
	var total int64
	for _, it := range rest {
		total += int64(len(it.Raw))
	}
	if st.Bytes != total {
		t.Fatalf("pending bytes = %d, want %d", st.Bytes, total)
	}
}

func TestPeekLimits(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), FileName), Options{})
	big := `{"x":"` + strings.Repeat("a", 1000) + `"}`
	for i := range 4 {
		if _, err := s.Append(testEvent(i, 2, big)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name          string
		max, maxBytes int
		through       uint64
		want          int
	}{
		{"count", 2, 1 << 20, 100, 2},
		{"bytes", 10, 2500, 100, 2},
		{"one even when larger than maxBytes", 10, 10, 100, 1},
		{"through key", 10, 1 << 20, 3, 3},
		{"through nothing", 10, 1 << 20, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := s.PeekThrough(tt.max, tt.maxBytes, tt.through)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(items); got != tt.want {
				t.Fatalf("got %d items, want %d", got, tt.want)
			}
		})
	}
}

func TestDeadLetter(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), FileName), Options{})
	for i := range 3 {
		s.Append(testEvent(i, 2, `{}`))
	}
	items, _ := s.Peek(10, 1<<20)
	if err := s.DeadLetter(items[1:2], "422: tier must be 1, 2 or 3"); err != nil {
		t.Fatal(err)
	}
	rest, _ := s.Peek(10, 1<<20)
	if got, want := strings.Join(ids(rest), ","), "evt_000,evt_002"; got != want {
		t.Fatalf("pending = %s, want %s", got, want)
	}
	letters, err := s.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 || letters[0].Reason != "422: tier must be 1, 2 or 3" || !strings.Contains(string(letters[0].Event), "evt_001") {
		t.Fatalf("dead letters = %+v", letters)
	}
	st, _ := s.Stats()
	if st.DeadLetters != 1 || st.Pending != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSizeCapDropsTier3BodiesThenOldest(t *testing.T) {
	body := `{"tool_response":"` + strings.Repeat("o", 2000) + `"}`
	one, _ := json.Marshal(testEvent(0, 3, body))
	// Room for a little more than four full events.
	s := mustOpen(t, filepath.Join(t.TempDir(), FileName), Options{MaxBytes: int64(len(one))*4 + 500})
	s.Append(testEvent(0, 2, body)) // tier 2: its body is kept until whole events must go
	s.Append(testEvent(1, 3, body))
	s.Append(testEvent(2, 3, body))
	s.Append(testEvent(3, 3, body))
	m, err := s.Append(testEvent(4, 3, body))
	if err != nil {
		t.Fatal(err)
	}
	if m.DroppedBodies != 1 || m.DroppedEvents != 0 {
		t.Fatalf("after one over the cap: dropped bodies %d events %d, want 1 and 0", m.DroppedBodies, m.DroppedEvents)
	}
	items, _ := s.Peek(10, 1<<30)
	if got, want := strings.Join(ids(items), ","), "evt_000,evt_001,evt_002,evt_003,evt_004"; got != want {
		t.Fatalf("pending = %s, want %s (no event dropped)", got, want)
	}
	if string(items[1].Event.Payload) != string(DroppedPayload) {
		t.Fatalf("oldest tier-3 payload = %s, want the marker", items[1].Event.Payload)
	}
	if string(items[0].Event.Payload) != body || string(items[2].Event.Payload) != body {
		t.Fatal("a tier-2 body or a newer tier-3 body was dropped")
	}
	// A large tier-2 event cannot be made room for by bodies alone once they are gone.
	for i := 5; i < 12; i++ {
		if _, err := s.Append(testEvent(i, 2, body)); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := s.Stats()
	if st.DroppedEvents == 0 {
		t.Fatal("no whole event dropped although tier-3 bodies ran out")
	}
	if st.Bytes > int64(len(one))*4+500 {
		t.Fatalf("pending bytes %d above the cap", st.Bytes)
	}
	items, _ = s.Peek(100, 1<<30)
	if last := items[len(items)-1].Event.ID; last != "evt_011" {
		t.Fatalf("newest event %s, want evt_011: new events must always go in", last)
	}
}

func TestOpenLockedReturnsErrLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s := mustOpen(t, path, Options{})
	_ = s
	start := time.Now()
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Open waited %v for the lock", d)
	}
}

func TestCaptureUsesInboxWhenLockedAndFoldKeepsOrder(t *testing.T) {
	home := t.TempDir()
	s := mustOpen(t, Path(home), Options{})
	s.Append(testEvent(0, 2, `{}`))

	res, err := Capture(home, Options{LockTimeout: 20 * time.Millisecond}, []event.Event{testEvent(1, 2, `{}`)})
	if err != nil || !res.Inbox {
		t.Fatalf("Capture while locked = %+v, %v; want the inbox", res, err)
	}
	Capture(home, Options{LockTimeout: 20 * time.Millisecond}, []event.Event{testEvent(2, 2, `{}`), testEvent(3, 2, `{}`)})
	files, _ := InboxFiles(home)
	if len(files) != 2 {
		t.Fatalf("inbox files = %v, want 2", files)
	}
	n, err := s.FoldInbox(home)
	if err != nil || n != 3 {
		t.Fatalf("FoldInbox = %d, %v; want 3 events", n, err)
	}
	items, _ := s.Peek(10, 1<<20)
	if got, want := strings.Join(ids(items), ","), "evt_000,evt_001,evt_002,evt_003"; got != want {
		t.Fatalf("pending = %s, want %s", got, want)
	}
	if files, _ := InboxFiles(home); len(files) != 0 {
		t.Fatalf("inbox not emptied: %v", files)
	}
}

func TestFoldInboxDeadLettersGarbage(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, InboxDir), 0o700)
	os.WriteFile(filepath.Join(home, InboxDir, "00000000000000000001-1-aa.json"), []byte("not json"), 0o600)
	s := mustOpen(t, Path(home), Options{})
	if _, err := s.FoldInbox(home); err != nil {
		t.Fatal(err)
	}
	letters, _ := s.DeadLetters()
	if len(letters) != 1 || letters[0].Reason != "unreadable inbox file" {
		t.Fatalf("dead letters = %+v", letters)
	}
}

func TestCorruptSpoolMovedAside(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("garbage!", 4096)), 0o600)
		}},
		{"tiny", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("x"), 0o600)
		}},
		{"truncated", func(t *testing.T, path string) {
			s := mustOpen(t, path, Options{})
			for i := range 200 {
				s.Append(testEvent(i, 3, `{"x":"`+strings.Repeat("y", 3000)+`"}`))
			}
			s.Close()
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/3); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			tt.corrupt(t, Path(home))
			var logged []string
			opts := Options{Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}
			res, err := Capture(home, opts, []event.Event{testEvent(7, 2, `{}`)})
			if err != nil || res.Inbox {
				t.Fatalf("Capture on a corrupt spool = %+v, %v; want it appended to a fresh spool", res, err)
			}
			moved := CorruptFiles(home)
			if len(moved) != 1 {
				t.Fatalf("moved-aside files = %v, want 1", moved)
			}
			if len(logged) == 0 || !strings.Contains(logged[0], "corrupt") {
				t.Fatalf("log = %q, want a corruption line", logged)
			}
			s := mustOpen(t, Path(home), Options{})
			items, _ := s.Peek(10, 1<<20)
			if got := strings.Join(ids(items), ","); got != "evt_007" {
				t.Fatalf("fresh spool holds %q, want evt_007", got)
			}
			st, _ := s.Stats()
			if len(st.CorruptMovedTo) != 1 || st.CorruptMovedTo[0] != moved[0] {
				t.Fatalf("meta records %v, want %v", st.CorruptMovedTo, moved)
			}
		})
	}
}

func TestState(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), FileName), Options{})
	if v, err := s.State("transcript:/a.jsonl"); err != nil || v != nil {
		t.Fatalf("missing state = %q, %v", v, err)
	}
	raw, _ := json.Marshal(testEvent(1, 1, `{}`))
	if _, err := s.AppendRaw([][]byte{raw}, map[string][]byte{"transcript:/a.jsonl": []byte(`{"offset":42}`)}, nil); err != nil {
		t.Fatal(err)
	}
	v, _ := s.State("transcript:/a.jsonl")
	if got, want := string(v), `{"offset":42}`; got != want {
		t.Fatalf("state = %s, want %s", got, want)
	}
	s.SetState(map[string][]byte{"transcript:/b.jsonl": []byte("2"), "other": []byte("3")})
	all, err := s.StatePrefix("transcript:")
	if err != nil || len(all) != 2 || string(all["transcript:/b.jsonl"]) != "2" {
		t.Fatalf("StatePrefix = %q, %v", all, err)
	}
	s.SetState(map[string][]byte{"transcript:/a.jsonl": nil})
	if v, _ := s.State("transcript:/a.jsonl"); v != nil {
		t.Fatalf("deleted state = %s", v)
	}
}

func TestClearStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	if err := ClearStop(path); err != nil {
		t.Fatalf("ClearStop of no spool: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("ClearStop created a spool (stat: %v)", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateMeta(func(m *Meta) { m.Stopped, m.RetryAt = "401", time.Now().Add(time.Hour) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := ClearStop(path); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Meta.Stopped != "" || !st.Meta.RetryAt.IsZero() {
		t.Errorf("after ClearStop: stopped %q, retry at %v; want both cleared", st.Meta.Stopped, st.Meta.RetryAt)
	}
}

// Pending events are keyed by an increasing sequence, so leaf pages only ever fill at the
// end: split full, a backlog's file is about its data, not twice it (bbolt's default
// half-full split), which also halves the pages a deliverer maps and frees.
func TestBacklogFileIsAboutItsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := mustOpen(t, path, Options{})
	payload := `"` + strings.Repeat("x", 700) + `"`
	for batch := range 40 {
		evts := make([]event.Event, 0, 500)
		for i := range 500 {
			evts = append(evts, testEvent(batch*500+i, 2, payload))
		}
		if _, err := s.Append(evts...); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// The pages in use, not the file: bbolt grows the file ahead in 16 MB steps.
	var used int64
	s.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	s.Close()
	if got, limit := float64(used)/float64(st.Bytes), 1.4; got > limit {
		t.Errorf("spool uses %d bytes of pages for %d bytes of pending events: %.2f×, want at most %.1f×", used, st.Bytes, got, limit)
	}
}

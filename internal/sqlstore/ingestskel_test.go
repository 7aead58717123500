package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// memDialect is an in-memory events table, to test the rules of Ingest apart from SQL.
type memDialect struct {
	stored    map[string][]byte
	began     [][]string
	replaced  []string
	projected []string
	written   map[string]EventRow // what the last Reproject was handed
	failWith  error               // returned by Reproject
	committed bool
}

func (d *memDialect) BeginIngest(_ context.Context, sessions []string) (IngestTx, error) {
	d.began = append(d.began, sessions)
	return &memTx{d: d, pending: map[string][]byte{}}, nil
}

type memTx struct {
	d       *memDialect
	pending map[string][]byte
}

func (t *memTx) body(id string) ([]byte, bool) {
	if b, ok := t.pending[id]; ok {
		return b, true
	}
	b, ok := t.d.stored[id]
	return b, ok
}

func (t *memTx) Insert(_ context.Context, rows []EventRow) ([]string, error) {
	var ids []string
	for _, r := range rows {
		if _, ok := t.body(r.ID); !ok {
			t.pending[r.ID] = r.Body
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

func (t *memTx) Stored(_ context.Context, rows []EventRow) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, r := range rows {
		out[r.ID], _ = t.body(r.ID)
	}
	return out, nil
}

func (t *memTx) Replace(_ context.Context, rows []EventRow) error {
	for _, r := range rows {
		t.pending[r.ID] = r.Body
		t.d.replaced = append(t.d.replaced, r.ID)
	}
	return nil
}

func (t *memTx) Reproject(_ context.Context, sessions []string, written map[string]EventRow) error {
	t.d.projected, t.d.written = sessions, written
	return t.d.failWith
}

func (t *memTx) Commit(context.Context) error {
	for id, b := range t.pending {
		t.d.stored[id] = b
	}
	t.d.committed = true
	return nil
}

func (t *memTx) Rollback(context.Context) {}

func usageEv(id, session string, out int64) event.Event {
	return event.Event{ID: id, SessionID: session, Kind: event.KindUsage, Tier: event.TierMetadata,
		Time: time.Unix(1_700_000_000, 0).UTC(), Usage: &event.Usage{MessageID: id, Model: "m", OutputTokens: out}}
}

func storedOutput(t *testing.T, d *memDialect, id string) int64 {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal(d.stored[id], &e); err != nil {
		t.Fatal(err)
	}
	return e.Usage.OutputTokens
}

// Ingest keeps one copy per ID, the preferred one (the larger usage reading), within a
// batch and over the stored copy; it counts every event not inserted as a duplicate and
// re-projects only the sessions whose events were inserted or replaced.
func TestIngestRules(t *testing.T) {
	ctx := context.Background()
	d := &memDialect{stored: map[string][]byte{}}
	res, err := Ingest(ctx, d, []event.Event{usageEv("a", "s2", 10), usageEv("a", "s2", 20), usageEv("b", "s1", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 2 || res.Duplicates != 1 || !slices.Equal(res.Sessions, []string{"s1", "s2"}) {
		t.Errorf("first batch: %+v; want 2 stored, 1 duplicate, sessions s1 s2", res)
	}
	if got := d.began[0]; !slices.Equal(got, []string{"s1", "s2"}) {
		t.Errorf("BeginIngest got sessions %v, want them sorted and distinct", got)
	}
	if got := storedOutput(t, d, "a"); got != 20 {
		t.Errorf("stored copy of a has %d output tokens, want the larger reading, 20", got)
	}
	if got := slices.Sorted(maps.Keys(d.written)); !slices.Equal(got, []string{"a", "b"}) || d.written["a"].Usage.OutputTokens != 20 {
		t.Errorf("written = %v; want a (the larger reading, 20) and b", got)
	}

	d.projected = nil
	res, err = Ingest(ctx, d, []event.Event{usageEv("a", "s2", 15), usageEv("b", "s1", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 0 || res.Duplicates != 2 || len(res.Sessions) != 0 || d.projected != nil || len(d.replaced) != 0 {
		t.Errorf("poorer copies: %+v, projected %v, replaced %v; want 2 duplicates and nothing changed", res, d.projected, d.replaced)
	}

	res, err = Ingest(ctx, d, []event.Event{usageEv("a", "s2", 30)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 0 || res.Duplicates != 1 || !slices.Equal(res.Sessions, []string{"s2"}) || !slices.Equal(d.replaced, []string{"a"}) {
		t.Errorf("richer copy: %+v, replaced %v; want 1 duplicate replacing a, session s2", res, d.replaced)
	}
	if got := storedOutput(t, d, "a"); got != 30 || len(d.written) != 1 || d.written["a"].Usage.OutputTokens != 30 {
		t.Errorf("after the richer copy: %d output tokens, written %v; want 30, the richer copy of a alone", got, d.written)
	}
}

// A failing step fails the whole call: nothing is committed and the result is empty.
func TestIngestAllOrNothing(t *testing.T) {
	boom := errors.New("boom")
	d := &memDialect{stored: map[string][]byte{}, failWith: boom}
	res, err := Ingest(context.Background(), d, []event.Event{usageEv("a", "s", 1)})
	if !errors.Is(err, boom) || d.committed || len(d.stored) != 0 || res.Stored != 0 || len(res.Sessions) != 0 {
		t.Fatalf("Ingest = %+v, %v; committed %v; want boom and nothing stored", res, err, d.committed)
	}
}

// sliceRows yields ids as rows of one column.
type sliceRows struct {
	ids []string
	i   int
}

func (r *sliceRows) Next() bool { r.i++; return r.i <= len(r.ids) }

func (r *sliceRows) Scan(dest ...any) error {
	*dest[0].(*string) = r.ids[r.i-1]
	return nil
}

func (r *sliceRows) Err() error { return nil }

// ReprojectAll rebuilds every stored session from what is stored (nothing written), in
// transactions of at most ReprojectChunk sessions, each holding its sessions.
func TestReprojectAllChunks(t *testing.T) {
	ids := make([]string, ReprojectChunk+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%03d", i)
	}
	r := Reader{Query: func(_ context.Context, _ string, _ []any, read func(Rows) error) error {
		return read(&sliceRows{ids: ids})
	}}
	d := &memDialect{stored: map[string][]byte{}, written: map[string]EventRow{"x": {}}}
	n, err := ReprojectAll(context.Background(), r, d)
	if err != nil || n != len(ids) {
		t.Fatalf("ReprojectAll = %d, %v; want %d", n, err, len(ids))
	}
	if len(d.began) != 2 || !slices.Equal(d.began[0], ids[:ReprojectChunk]) || !slices.Equal(d.began[1], ids[ReprojectChunk:]) {
		t.Errorf("transactions held %v; want two chunks in order", d.began)
	}
	if !slices.Equal(d.projected, ids[ReprojectChunk:]) || d.written != nil || !d.committed {
		t.Errorf("last chunk: projected %v, written %v, committed %v; want the chunk, nil, true", d.projected, d.written, d.committed)
	}
}

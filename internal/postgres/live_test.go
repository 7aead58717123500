package postgres_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/live"
	"github.com/agent-trace/agent-trace/internal/postgres"
)

// The table is the history behind every server's hub: After answers from any id it
// still holds, and once changes are pruned a resume from before them is refused (the
// client resyncs) while later ones still work.
func TestLiveBusHistoryAndPrune(t *testing.T) {
	s := openPostgres(t, freshDatabase(t))
	ctx := context.Background()
	hub := live.New()
	bus, err := s.OpenLiveBus(ctx, hub, postgres.LiveOptions{Retain: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { bus.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	publish := func(data string) []uint64 {
		t.Helper()
		ids, err := bus.Publish(ctx, []live.Message{
			{Type: live.SessionUpdated, SessionID: "s", Data: []byte(`"` + data + `"`)},
			{Type: live.PromptCreated, SessionID: "s", Data: []byte(`{}`)},
		})
		if err != nil || len(ids) != 2 || ids[1] <= ids[0] {
			t.Fatalf("Publish: %v, %v; want two increasing ids", ids, err)
		}
		return ids
	}
	first := publish("one")
	second := publish("two")

	tests := []struct {
		name    string
		after   uint64
		wantIDs []uint64
		wantOK  bool
	}{
		{"from the start", 0, append(first, second...), true},
		{"from the middle", first[1], second, true},
		{"up to date", second[1], nil, true},
		{"never issued", second[1] + 100, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, ok, err := bus.After(ctx, tt.after, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, m := range msgs {
				got = append(got, m.ID)
			}
			if ok != tt.wantOK || len(got) != len(tt.wantIDs) {
				t.Fatalf("After(%d) = %v, %v; want %v, %v", tt.after, got, ok, tt.wantIDs, tt.wantOK)
			}
			for i := range got {
				if got[i] != tt.wantIDs[i] {
					t.Fatalf("After(%d) = %v, want %v", tt.after, got, tt.wantIDs)
				}
			}
		})
	}

	// The hub received them through the listener, numbered by the table.
	deadline := time.Now().Add(2 * time.Second)
	for hub.LastID() != second[1] && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got, want := hub.LastID(), second[1]; got != want {
		t.Errorf("hub's newest id = %d, want %d", got, want)
	}

	time.Sleep(5 * time.Millisecond)
	if err := bus.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := bus.After(ctx, first[0], 100); ok || err != nil {
		t.Errorf("After a pruned id: ok %v, err %v; want not ok", ok, err)
	}
	third := publish("three")
	msgs, ok, err := bus.After(ctx, second[1], 100)
	if err != nil || !ok || len(msgs) != 2 || msgs[0].ID != third[0] {
		t.Errorf("After the newest pruned id: %v, %v, %v; want the two published since", msgs, ok, err)
	}
}

// Changes published while a server's listener is disconnected reach its hub once it
// reconnects: it reads them from the table, since their notifications went nowhere.
func TestLiveBusCatchesUpAfterListenerKilled(t *testing.T) {
	dsn := freshDatabase(t)
	s := openPostgres(t, dsn)
	ctx := context.Background()
	hub := live.New()
	// A reconnect slower than the publishing below, so all of it happens with nobody listening.
	bus, err := s.OpenLiveBus(ctx, hub, postgres.LiveOptions{Backoff: 800 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { bus.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	var pid int32
	err = s.Pool().QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 || ' ' || current_schema()`,
		postgres.ListenerName).Scan(&pid)
	if err != nil {
		t.Fatalf("find the listener: %v", err)
	}
	if _, err := s.Pool().Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	start := hub.LastID()
	var want []uint64
	for i := range 5 {
		ids, err := bus.Publish(ctx, []live.Message{{Type: live.SessionUpdated, SessionID: "s", Data: []byte(strconv.Itoa(i))}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ids...)
	}
	if got := hub.LastID(); got != start {
		t.Fatalf("hub at %d while its listener was down, want still %d", got, start)
	}
	deadline := time.Now().Add(5 * time.Second)
	for hub.LastID() != want[len(want)-1] && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	msgs, _, gap, _ := hub.Since(start)
	var got []uint64
	for _, m := range msgs {
		got = append(got, m.ID)
	}
	if gap || !slices.Equal(got, want) {
		t.Errorf("after reconnecting the hub holds %v (gap %v), want %v", got, gap, want)
	}
}

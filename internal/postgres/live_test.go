package postgres_test

import (
	"context"
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

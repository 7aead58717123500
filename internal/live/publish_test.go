package live_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/live"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// pubEnv is a publisher over a real store, driven the way the API's ingest drives it.
type pubEnv struct {
	store *sqlite.Store
	hub   *live.Hub
	pub   *live.Publisher
	seen  uint64 // the last hub message a test has read
}

func mustPublisher(tb testing.TB) *pubEnv {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	hub := live.New(live.WithHeartbeat(time.Hour))
	e := &pubEnv{store: st, hub: hub}
	e.start(tb)
	tb.Cleanup(func() {
		hub.Close()
		st.Close()
	})
	return e
}

// start runs a fresh publisher (as a restarted server would) until the test ends.
func (e *pubEnv) start(tb testing.TB) {
	e.pub = live.NewPublisher(e.store, e.hub, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.pub.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
}

// watch subscribes a client that leaves at once: the hub has been watched since.
func (e *pubEnv) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	e.hub.ServeHTTP(httptest.NewRecorder(), r)
}

// ingest stores events, tells the publisher, waits until it has published and returns
// the changes published since the last call.
func (e *pubEnv) ingest(tb testing.TB, events []event.Event) []live.Message {
	tb.Helper()
	ctx := context.Background()
	res, err := e.store.Ingest(ctx, events)
	if err != nil {
		tb.Fatalf("ingest: %v", err)
	}
	e.pub.Notify(res, events)
	flush, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.pub.Flush(flush); err != nil {
		tb.Fatalf("flush: %v", err)
	}
	return e.since()
}

func (e *pubEnv) since() []live.Message {
	msgs, newest, _, _ := e.hub.Since(e.seen)
	e.seen = newest
	return msgs
}

func types(msgs []live.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Type)
	}
	return out
}

func hookEvents(tb testing.TB, name string) (storetest.Fixture, []event.Event) {
	tb.Helper()
	for _, f := range storetest.Fixtures() {
		if f.Name != name {
			continue
		}
		var hooks []event.Event
		for _, ev := range f.Events {
			if ev.Kind == event.KindHook {
				hooks = append(hooks, ev)
			}
		}
		return f, hooks
	}
	tb.Fatalf("no fixture %q", name)
	return storetest.Fixture{}, nil
}

func decodeData[T any](tb testing.TB, m live.Message) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(m.Data, &v); err != nil {
		tb.Fatalf("decode %s: %v: %s", m.Type, err, m.Data)
	}
	return v
}

// Moved from internal/api (TestNoChangesComputedBeforeAnyoneSubscribes).
func TestPublisherIdleUntilWatched(t *testing.T) {
	e := mustPublisher(t)
	before := e.hub.LastID()
	_, hooks := hookEvents(t, "commit")
	e.ingest(t, hooks)
	if got := e.hub.LastID(); got != before {
		t.Errorf("%d changes published with nobody ever subscribed", got-before)
	}
}

func TestPublisherCreatesUpdatesAndDeletes(t *testing.T) {
	e := mustPublisher(t)
	e.watch()
	f, hooks := hookEvents(t, "multi-prompt")
	half := slices.IndexFunc(hooks[2:], func(ev event.Event) bool { return ev.HookEvent == "UserPromptSubmit" }) + 2
	if half < 3 {
		t.Fatalf("fixture %s has one prompt", f.Name)
	}

	got := e.ingest(t, hooks[:2])
	if len(got) == 0 || got[0].Type != live.SessionCreated {
		t.Fatalf("first batch published %v, want %s first", types(got), live.SessionCreated)
	}
	if created := decodeData[agenttrace.SessionSummary](t, got[0]); created.ID != f.SessionID {
		t.Errorf("created session %q, want %q", created.ID, f.SessionID)
	}

	got = e.ingest(t, hooks[2:half])
	i := slices.IndexFunc(got, func(m live.Message) bool { return m.Type == live.SessionUpdated })
	if i < 0 {
		t.Fatalf("second batch published %v, want a %s", types(got), live.SessionUpdated)
	}
	upd := decodeData[map[string]json.RawMessage](t, got[i])
	if _, ok := upd["id"]; !ok || len(upd) < 2 || len(upd) >= 25 {
		t.Errorf("session.updated carries %d fields, want the id and only changed ones: %s", len(upd), got[i].Data)
	}

	got = e.ingest(t, hooks[half:])
	got = append(got, e.ingest(t, f.Events)...) // usage, cost, git events too
	for _, want := range []string{live.PromptCreated, live.ToolCallUpdated, live.SessionUpdated} {
		if !slices.Contains(types(got), want) {
			t.Errorf("no %s; got %v", want, types(got))
		}
	}

	e.pub.Deleted(f.SessionID)
	if got := e.since(); len(got) != 1 || got[0].Type != live.SessionDeleted || got[0].SessionID != f.SessionID {
		t.Errorf("Deleted published %v, want one %s", types(got), live.SessionDeleted)
	}
}

func TestPublisherToolCallLifecycleAndRestart(t *testing.T) {
	e := mustPublisher(t)
	e.watch()
	_, hooks := hookEvents(t, "multi-prompt")
	pre := slices.IndexFunc(hooks, func(ev event.Event) bool { return ev.HookEvent == "PreToolUse" })
	if pre < 0 || hooks[pre+1].HookEvent != "PostToolUse" {
		t.Fatal("fixture lacks a PreToolUse followed by its PostToolUse")
	}
	toolID := hooks[pre].ToolUseID
	lastTool := func(msgs []live.Message) live.ToolCallChange {
		t.Helper()
		i := slices.IndexFunc(msgs, func(m live.Message) bool { return m.Type == live.ToolCallUpdated })
		if i < 0 {
			t.Fatalf("no %s in %v", live.ToolCallUpdated, types(msgs))
		}
		return decodeData[live.ToolCallChange](t, msgs[i])
	}

	if tc := lastTool(e.ingest(t, hooks[:pre+1])); tc.ID != toolID || tc.Status != agenttrace.ToolPending {
		t.Errorf("after PreToolUse: %+v, want %s pending", tc, toolID)
	}
	got := e.ingest(t, hooks[pre+1:pre+2])
	if tc := lastTool(got); tc.ID != toolID || tc.Status != agenttrace.ToolOK {
		t.Errorf("after PostToolUse: %+v, want %s ok", tc, toolID)
	}
	for _, m := range got {
		if m.Type != live.SessionUpdated {
			continue
		}
		fields := decodeData[map[string]json.RawMessage](t, m)
		for _, unchanged := range []string{"user", "host", "started_at", "cwd"} {
			if _, ok := fields[unchanged]; ok {
				t.Errorf("session.updated repeats unchanged %q: %s", unchanged, m.Data)
			}
		}
	}

	// A restarted server has no cache: the next change is an update, not a creation.
	e.start(t)
	got = e.ingest(t, hooks[pre+2:])
	i := slices.IndexFunc(got, func(m live.Message) bool {
		return m.Type == live.SessionUpdated || m.Type == live.SessionCreated
	})
	if i < 0 || got[i].Type != live.SessionUpdated {
		t.Errorf("after restart: %v, want %s", types(got), live.SessionUpdated)
	}
}

// A 20 KB prompt and command reach subscribers as 1 KB notices marked truncated: every
// stream holds the same small notices, and the page fetches the full text.
func TestNoticesCarryBoundedText(t *testing.T) {
	e := mustPublisher(t)
	e.watch()
	_, hooks := hookEvents(t, "commit")
	big := strings.Repeat("é", 10<<10) // 20 KB, two bytes a rune: a cut must not split one
	for i, ev := range hooks {
		var p map[string]any
		_ = json.Unmarshal(ev.Payload, &p)
		switch ev.HookEvent {
		case "UserPromptSubmit":
			p["prompt"] = big
		case "PreToolUse", "PostToolUse":
			if in, ok := p["tool_input"].(map[string]any); ok && ev.ToolName == "Bash" {
				in["command"] = "echo " + big
			}
		}
		hooks[i].Payload, _ = json.Marshal(p)
	}
	got := e.ingest(t, hooks)
	var sawPrompt, sawCommand bool
	for _, m := range got {
		if len(m.Data) > 4*live.NoticeText {
			t.Errorf("%s notice of %d bytes", m.Type, len(m.Data))
		}
		switch m.Type {
		case live.PromptCreated:
			pc := decodeData[live.PromptChange](t, m)
			sawPrompt = pc.Truncated && len(pc.Text) <= live.NoticeText && utf8.ValidString(pc.Text) && strings.HasPrefix(big, pc.Text)
		case live.ToolCallUpdated:
			if tc := decodeData[live.ToolCallChange](t, m); tc.Name == "Bash" && tc.Truncated && len(tc.Command) <= live.NoticeText {
				sawCommand = true
			}
		}
	}
	if !sawPrompt || !sawCommand {
		t.Errorf("truncated prompt notice %v, command notice %v; got %v", sawPrompt, sawCommand, types(got))
	}
}

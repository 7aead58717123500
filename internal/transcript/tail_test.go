package transcript_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// assistantLine builds one transcript line of an API response content block.
func assistantLine(msgID, reqID string, out int64, content string) string {
	req := ""
	if reqID != "" {
		req = fmt.Sprintf(`"requestId":%q,`, reqID)
	}
	return fmt.Sprintf(`{"parentUuid":"p","isSidechain":false,"message":{"id":%q,"type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[%s],"stop_reason":"tool_use","usage":{"input_tokens":10,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":%d,"cache_creation":{"ephemeral_5m_input_tokens":40,"ephemeral_1h_input_tokens":60},"server_tool_use":{"web_search_requests":2},"speed":"standard"}},%s"type":"assistant","timestamp":"2026-11-25T10:00:00.000Z","sessionId":"s1"}`,
		msgID, content, out, req)
}

func userPrompt(promptID, text string) string {
	return fmt.Sprintf(`{"type":"user","promptId":%q,"message":{"role":"user","content":%q},"timestamp":"2026-11-25T09:59:59.000Z","sessionId":"s1"}`, promptID, text)
}

func writeFile(t testing.TB, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func usages(evs []event.Event) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.Kind == event.KindUsage {
			out = append(out, e)
		}
	}
	return out
}

func mustTail(t testing.TB, path string, st transcript.State, opts transcript.Options) ([]event.Event, transcript.State) {
	t.Helper()
	evs, st, err := transcript.Tail(path, st, opts)
	if err != nil {
		t.Fatalf("Tail: %v", err)
	}
	return evs, st
}

func TestStreamedLinesCountedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.jsonl")
	writeFile(t, path,
		userPrompt("prompt-1", "do it"),
		assistantLine("msg_1", "req_1", 5, `{"type":"thinking","thinking":""}`),
		assistantLine("msg_1", "req_1", 40, `{"type":"text","text":"Running it."}`),
		assistantLine("msg_1", "req_1", 12, `{"type":"tool_use","id":"toolu_a","name":"Bash","input":{"command":"ls"}}`),
		assistantLine("msg_1", "req_1", 12, `{"type":"tool_use","id":"toolu_b","name":"Read","input":{"file_path":"x"}}`),
		`{"type":"user","promptId":"prompt-1","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_a","content":"ok"}]},"timestamp":"2026-11-25T10:00:01.000Z","sessionId":"s1"}`,
		assistantLine("msg_2", "", 7, `{"type":"text","text":"Done."}`),
		assistantLine("msg_2", "", 9, `{"type":"text","text":"Really."}`),
		`{"type":"assistant","isApiErrorMessage":true,"message":{"id":"msg_3","model":"<synthetic>","content":[{"type":"text","text":"API Error"}],"usage":{"input_tokens":0,"output_tokens":0}},"timestamp":"2026-11-25T10:00:02.000Z","sessionId":"s1"}`,
	)
	evs := usages(readAll(t, path, transcript.Options{Tier: event.TierFull}))
	if len(evs) != 2 {
		t.Fatalf("got %d usage events, want 2 (one per response, synthetic skipped): %+v", len(evs), evs)
	}
	u := evs[0].Usage
	want := event.Usage{
		MessageID: "msg_1", RequestID: "req_1", Model: "claude-sonnet-4-6", StopReason: "tool_use", Speed: "standard",
		InputTokens: 10, OutputTokens: 40, CacheCreationInputTokens: 100, CacheCreation5mTokens: 40, CacheCreation1hTokens: 60,
		CacheReadInputTokens: 1000, WebSearchRequests: 2,
		ToolUseIDs: []string{"toolu_a", "toolu_b"}, Text: "Running it.",
	}
	if !reflect.DeepEqual(*u, want) {
		t.Errorf("usage\n got %+v\nwant %+v", *u, want)
	}
	if got, want := evs[0].ID, event.ID(event.KindUsage, "s1", "msg_1", "req_1"); got != want {
		t.Errorf("ID = %s, want %s", got, want)
	}
	if evs[0].PromptID != "prompt-1" || evs[0].SessionID != "s1" || evs[0].Tier != event.TierFull {
		t.Errorf("prompt/session/tier = %q/%q/%d", evs[0].PromptID, evs[0].SessionID, evs[0].Tier)
	}
	// No requestId: keyed by message.id alone.
	if evs[1].Usage.MessageID != "msg_2" || evs[1].Usage.OutputTokens != 9 || evs[1].Usage.Text != "Done.\n\nReally." {
		t.Errorf("second response = %+v", evs[1].Usage)
	}
	if got, want := evs[1].ID, event.ID(event.KindUsage, "s1", "msg_2", ""); got != want {
		t.Errorf("ID = %s, want %s", got, want)
	}
}

func TestCacheCreationWithoutSplitIs5m(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.jsonl")
	writeFile(t, path, `{"type":"assistant","requestId":"r","message":{"id":"m","model":"claude-opus-4-6","content":[],"usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":300,"cache_read_input_tokens":4}},"timestamp":"2026-11-25T10:00:00Z"}`)
	evs := usages(readAll(t, path, transcript.Options{}))
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	if u := evs[0].Usage; u.CacheCreationInputTokens != 300 || u.CacheCreation5mTokens != 300 || u.CacheCreation1hTokens != 0 {
		t.Errorf("cache creation = %d (5m %d, 1h %d), want 300 all 5m", u.CacheCreationInputTokens, u.CacheCreation5mTokens, u.CacheCreation1hTokens)
	}
	if evs[0].SessionID != "s1" {
		t.Errorf("session from file name = %q, want s1", evs[0].SessionID)
	}
}

func TestTextOnlyAtTier3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.jsonl")
	writeFile(t, path, assistantLine("msg_1", "req_1", 5, `{"type":"text","text":"secret plans"}`))
	for tier := event.TierMetadata; tier <= event.TierFull; tier++ {
		evs := usages(readAll(t, path, transcript.Options{Tier: tier}))
		if len(evs) != 1 {
			t.Fatalf("tier %d: %d events", tier, len(evs))
		}
		b, _ := json.Marshal(evs)
		has := bytes.Contains(b, []byte("secret plans"))
		if has != (tier == event.TierFull) {
			t.Errorf("tier %d: text present = %v", tier, has)
		}
		if evs[0].Tier != tier {
			t.Errorf("tier %d: event tier %d", tier, evs[0].Tier)
		}
	}
}

func TestTrailingResponseHeldBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.jsonl")
	writeFile(t, path, assistantLine("msg_1", "req_1", 5, `{"type":"text","text":"a"}`))
	evs, st := mustTail(t, path, transcript.State{}, transcript.Options{})
	if len(usages(evs)) != 0 || st.Pending == nil {
		t.Fatalf("the only response was emitted before it was known complete: %+v", evs)
	}
	// More lines of the same response arrive, with larger usage.
	appendFile(t, path, []byte(assistantLine("msg_1", "req_1", 50, `{"type":"tool_use","id":"toolu_x","name":"Bash","input":{}}`)+"\n"))
	evs, st = mustTail(t, path, st, transcript.Options{})
	if len(usages(evs)) != 0 {
		t.Fatalf("emitted while still the trailing response: %+v", evs)
	}
	// A new response starts: the first is complete.
	appendFile(t, path, []byte(assistantLine("msg_2", "req_2", 1, `{"type":"text","text":"b"}`)+"\n"))
	evs, st = mustTail(t, path, st, transcript.Options{})
	us := usages(evs)
	if len(us) != 1 || us[0].Usage.MessageID != "msg_1" || us[0].Usage.OutputTokens != 50 || len(us[0].Usage.ToolUseIDs) != 1 {
		t.Fatalf("after a new response: %+v", us)
	}
	// Final flushes the last one.
	evs, st = mustTail(t, path, st, transcript.Options{Final: true})
	if us := usages(evs); len(us) != 1 || us[0].Usage.MessageID != "msg_2" {
		t.Fatalf("final: %+v", us)
	}
	if st.Pending != nil {
		t.Errorf("pending after final: %+v", st.Pending)
	}
}

func TestCallerStateNotMutated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.jsonl")
	writeFile(t, path, assistantLine("msg_1", "req_1", 5, `{"type":"text","text":"a"}`))
	_, st := mustTail(t, path, transcript.State{}, transcript.Options{})
	before, _ := json.Marshal(st)
	appendFile(t, path, []byte(assistantLine("msg_1", "req_1", 50, `{"type":"tool_use","id":"toolu_x","name":"Bash","input":{}}`)+"\n"))
	mustTail(t, path, st, transcript.Options{})
	after, _ := json.Marshal(st)
	if !bytes.Equal(before, after) {
		t.Errorf("Tail changed the caller's state:\n%s\n%s", before, after)
	}
}

func TestTruncatedLineThenCompleted(t *testing.T) {
	fx := fixtures(t)[0]
	full, err := os.ReadFile(fx.main)
	if err != nil {
		t.Fatal(err)
	}
	want := readAll(t, fx.main, transcript.Options{Tier: event.TierFull})

	path := filepath.Join(t.TempDir(), filepath.Base(fx.main))
	// Cut in the middle of the last assistant line.
	i := bytes.LastIndex(full, []byte(`"type":"assistant"`))
	appendFile(t, path, full[:i])
	evs1, st := mustTail(t, path, transcript.State{}, transcript.Options{Tier: event.TierFull, Final: true})
	if st.Offset != int64(bytes.LastIndexByte(full[:i], '\n')+1) {
		t.Errorf("offset %d: the torn line must not be consumed (want %d)", st.Offset, bytes.LastIndexByte(full[:i], '\n')+1)
	}
	appendFile(t, path, full[i:])
	evs2, _ := mustTail(t, path, st, transcript.Options{Tier: event.TierFull, Final: true})
	got := dedupByID(append(evs1, evs2...))
	assertSameEvents(t, got, want)
}

// dedupByID keeps the first event of each ID, as a receiver does.
func dedupByID(evs []event.Event) []event.Event {
	seen := map[string]bool{}
	var out []event.Event
	for _, e := range evs {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

func assertSameEvents(t *testing.T, got, want []event.Event) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("events differ:\n got %d: %s\nwant %d: %s", len(got), trunc(g), len(want), trunc(w))
	}
}

func trunc(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// TestSmallIncrementsEqualOneRead appends every fixture transcript in random small pieces
// (cutting lines anywhere), tails after each piece with the state round-tripped through
// JSON as the deliverer stores it, and expects exactly the events of one read.
func TestSmallIncrementsEqualOneRead(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fx := range fixtures(t) {
		for _, src := range transcript.Files(fx.main) {
			full, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			opts := transcript.Options{Tier: event.TierFull}
			want := readAll(t, src, opts)

			dir := t.TempDir()
			path := filepath.Join(dir, filepath.Base(src))
			if strings.Contains(src, "/subagents/") {
				path = filepath.Join(dir, "d04f3c58-1e16-4770-9cf3-d9f8ce8512ba", "subagents", filepath.Base(src))
				os.MkdirAll(filepath.Dir(path), 0o700)
			}
			var got []event.Event
			var st transcript.State
			for off := 0; off < len(full); {
				n := min(1+rng.IntN(400), len(full)-off)
				appendFile(t, path, full[off:off+n])
				off += n
				var evs []event.Event
				evs, st = mustTail(t, path, st, opts)
				got = append(got, evs...)
				b, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				st = transcript.State{}
				if err := json.Unmarshal(b, &st); err != nil {
					t.Fatal(err)
				}
			}
			opts.Final = true
			evs, _ := mustTail(t, path, st, opts)
			got = append(got, evs...)
			t.Run(fx.name+"/"+filepath.Base(src), func(t *testing.T) { assertSameEvents(t, got, want) })
		}
	}
}

func TestRewrittenFile(t *testing.T) {
	fxs := fixtures(t)
	a, err := os.ReadFile(fxs[0].main)
	if err != nil {
		t.Fatal(err)
	}
	opts := transcript.Options{Tier: event.TierMetadata, Final: true, SessionID: "x"}
	path := filepath.Join(t.TempDir(), "x.jsonl")
	os.WriteFile(path, a, 0o600)
	first, st := mustTail(t, path, transcript.State{}, opts)
	firstIDs := map[string]bool{}
	for _, e := range first {
		firstIDs[e.ID] = true
	}

	t.Run("shorter", func(t *testing.T) {
		// The file is rewritten with only its first half (as after a crash and restore).
		cut := bytes.Index(a, []byte(`"tools":["Write","Edit","Read","Bash"]`)) // after three responses
		half := a[:bytes.IndexByte(a[cut:], '\n')+cut+1]
		os.WriteFile(path, half, 0o600)
		got, st2 := mustTail(t, path, st, opts)
		if st2.Offset != int64(len(half)) {
			t.Errorf("offset %d, want %d", st2.Offset, len(half))
		}
		assertSameEvents(t, got, readAll(t, path, opts))
		for _, e := range got {
			if !firstIDs[e.ID] {
				t.Errorf("event %s after the rewrite has an ID the first read did not: it would be counted twice", e.ID)
			}
		}
		if len(usages(got)) == 0 {
			t.Errorf("nothing re-read after the rewrite")
		}
	})
	t.Run("same size or longer, different head", func(t *testing.T) {
		b, err := os.ReadFile(fxs[1].main)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) < len(a) {
			b = append(b, b...)
		}
		os.WriteFile(path, b, 0o600)
		got, _ := mustTail(t, path, st, opts)
		assertSameEvents(t, got, readAll(t, path, opts))
	})
}

func TestMissingFile(t *testing.T) {
	st := transcript.State{Offset: 42, PromptID: "p"}
	evs, got, err := transcript.Tail(filepath.Join(t.TempDir(), "nope.jsonl"), st, transcript.Options{Final: true})
	if err != nil || len(evs) != 0 || !reflect.DeepEqual(got, st) {
		t.Errorf("Tail(missing) = %v, %+v, %v; want nothing, the same state, no error", evs, got, err)
	}
}

func TestVeryLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.jsonl")
	big := strings.Repeat("x", 3<<20) // far beyond the read buffer
	writeFile(t, path,
		`{"type":"attachment","content":"`+big+`"}`,
		assistantLine("msg_1", "req_1", 5, `{"type":"text","text":"`+big+`"}`),
		assistantLine("msg_2", "req_2", 6, `{"type":"text","text":"short"}`),
	)
	evs := usages(readAll(t, path, transcript.Options{Tier: event.TierFull}))
	if len(evs) != 2 || len(evs[0].Usage.Text) != len(big) || evs[1].Usage.OutputTokens != 6 {
		t.Fatalf("got %d events", len(evs))
	}
}

func TestCostStateEvent(t *testing.T) {
	var mp fixture
	for _, f := range fixtures(t) {
		if f.name == "multi-prompt" {
			mp = f
		}
	}
	var cs []event.Event
	for _, e := range readAll(t, mp.main, transcript.Options{Tier: 2}) {
		if e.Kind == event.KindCostState {
			cs = append(cs, e)
		}
	}
	if len(cs) != 2 || cs[0].ID == cs[1].ID {
		t.Fatalf("want two distinct cost-state events (one per process), got %d", len(cs))
	}
	last := cs[1]
	if last.Time.Before(cs[0].Time) || last.Time.IsZero() {
		t.Errorf("cost-state times %v then %v: the later line must not be older", cs[0].Time, last.Time)
	}
	want := event.CostState{TotalCostUSD: 0.0956, LinesAdded: 8, LinesRemoved: 0, ModelUsage: map[string]event.ModelUsage{
		"claude-opus-5-5": {InputTokens: 12150, OutputTokens: 1500, CacheCreationInputTokens: 1000, CacheReadInputTokens: 60000, CostUSD: 0.0956, CacheCreation5mTokens: 1000},
	}}
	if !reflect.DeepEqual(*last.CostState, want) {
		t.Errorf("cost-state\n got %+v\nwant %+v", *last.CostState, want)
	}
	if last.SessionID != "33528e40-6bde-4559-863c-1df9461005de" || last.Tier != 2 {
		t.Errorf("session %q tier %d", last.SessionID, last.Tier)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "sess.jsonl")
	if got := transcript.Files(main); !reflect.DeepEqual(got, []string{main}) {
		t.Errorf("Files without subagents = %v", got)
	}
	sub := filepath.Join(dir, "sess", "subagents")
	os.MkdirAll(sub, 0o700)
	for _, n := range []string{"agent-b.jsonl", "agent-a.jsonl", "notes.txt", "agent-c.meta.json"} {
		os.WriteFile(filepath.Join(sub, n), nil, 0o600)
	}
	want := []string{main, filepath.Join(sub, "agent-a.jsonl"), filepath.Join(sub, "agent-b.jsonl")}
	if got := transcript.Files(main); !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v, want %v", got, want)
	}
}

func TestRewrittenBehindSameHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.jsonl")
	head := `{"type":"queue-operation","content":"` + strings.Repeat("h", 5000) + `"}`
	writeFile(t, path, head,
		assistantLine("msg_1", "req_1", 5, `{"type":"text","text":"a"}`),
		assistantLine("msg_2", "req_2", 5, `{"type":"text","text":"b"}`))
	opts := transcript.Options{Final: true}
	_, st := mustTail(t, path, transcript.State{}, opts)
	// Same head, different and longer body: the saved offset now falls inside a line.
	writeFile(t, path, head,
		assistantLine("msg_3", "req_3", 5, `{"type":"text","text":"a longer first response than before"}`),
		assistantLine("msg_4", "req_4", 5, `{"type":"text","text":"b"}`),
		assistantLine("msg_5", "req_5", 5, `{"type":"text","text":"c"}`))
	got, _ := mustTail(t, path, st, opts)
	assertSameEvents(t, got, readAll(t, path, opts))
}

func TestFinalLineWithoutNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s1.jsonl")
	line := assistantLine("msg_1", "req_1", 5, `{"type":"text","text":"a"}`)
	appendFile(t, path, []byte(line)) // no newline yet
	evs, st := mustTail(t, path, transcript.State{}, transcript.Options{})
	if len(evs) != 0 || st.Offset != 0 {
		t.Fatalf("a line without its newline was consumed before the file was final: %d events, offset %d", len(evs), st.Offset)
	}
	evs, st = mustTail(t, path, st, transcript.Options{Final: true})
	if len(usages(evs)) != 1 || st.Offset != int64(len(line)) {
		t.Fatalf("final: %d events, offset %d", len(evs), st.Offset)
	}
	// The newline arrives later, then a new response: nothing is read twice.
	appendFile(t, path, []byte("\n"+assistantLine("msg_2", "req_2", 5, `{"type":"text","text":"b"}`)+"\n"))
	evs, _ = mustTail(t, path, st, transcript.Options{Final: true})
	if us := usages(evs); len(us) != 1 || us[0].Usage.MessageID != "msg_2" {
		t.Fatalf("after the newline: %+v", us)
	}
}

package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/mcp"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// The recorded sessions' known answers.
const (
	helloSession = "02ffe567-4617-41ff-b977-3528b6d21881" // "Create hello.py and commit it"
	utilsSession = "33528e40-6bde-4559-863c-1df9461005de" // "Add a utils module": utils.py, test_utils.py
)

// now is after every recorded session (November 2026), so "30d" covers them all.
var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// mustStore is a SQLite store holding the recorded fixture sessions.
func mustStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(tb, s, f.Events)
	}
	return s
}

func opts() mcp.Options { return mcp.Options{Version: "test", Now: func() time.Time { return now }} }

// stdioClient connects the SDK's client to the server over a pair of pipes, as
// agent-trace-server mcp serves stdin and stdout.
func stdioClient(t *testing.T, s mcp.Store) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- mcp.Serve(ctx, s, opts(), toServer, fromServer) }()
	cs := connect(t, &sdk.IOTransport{Reader: toClient, Writer: fromClient})
	t.Cleanup(func() {
		cs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return cs
}

// httpClient connects the SDK's client to the streamable HTTP handler.
func httpClient(t *testing.T, s mcp.Store) *sdk.ClientSession {
	t.Helper()
	srv := httptest.NewServer(mcp.HTTPHandler(s, opts()))
	t.Cleanup(srv.Close)
	cs := connect(t, &sdk.StreamableClientTransport{Endpoint: srv.URL, DisableStandaloneSSE: true})
	t.Cleanup(func() { cs.Close() })
	return cs
}

func connect(t *testing.T, tr sdk.Transport) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return cs
}

// call calls a tool and returns its text and its structured output as JSON.
func call(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) (text string, structured string, isError bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			text += tc.Text
		}
	}
	b, _ := json.Marshal(res.StructuredContent)
	return text, string(b), res.IsError
}

func TestTransports(t *testing.T) {
	s := mustStore(t)
	for _, tr := range []struct {
		name    string
		connect func(*testing.T, mcp.Store) *sdk.ClientSession
	}{{"stdio", stdioClient}, {"http", httpClient}} {
		t.Run(tr.name, func(t *testing.T) {
			cs := tr.connect(t, s)
			if got, want := cs.InitializeResult().ServerInfo.Name, mcp.ServerName; got != want {
				t.Errorf("server name = %q, want %q", got, want)
			}
			var names []string
			for tool, err := range cs.Tools(context.Background(), nil) {
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, tool.Name)
				if tool.InputSchema == nil || tool.OutputSchema == nil {
					t.Errorf("%s: input schema %v, output schema %v; want both", tool.Name, tool.InputSchema, tool.OutputSchema)
				}
			}
			if got, want := strings.Join(names, ","), "cost_report,find_commit,find_file_history,get_session,search_sessions"; got != want {
				t.Errorf("tools = %s, want %s", got, want)
			}
			text, _, isErr := call(t, cs, "find_commit", map[string]any{"sha": storetest.FixtureSHA[:8]})
			if isErr || !strings.Contains(text, helloSession) {
				t.Errorf("find_commit: %s, want the hello.py session", text)
			}
		})
	}
}

func TestTools(t *testing.T) {
	cs := stdioClient(t, mustStore(t))
	tests := []struct {
		name    string
		tool    string
		args    map[string]any
		want    []string // in the text, in this order
		wantOut []string // in the structured output
		notWant []string
		isError bool
	}{
		{name: "search by prompt text", tool: "search_sessions", args: map[string]any{"query": "HELLO.PY"},
			want:    []string{"session " + helloSession, "matching prompt #1: Create hello.py and commit it"},
			wantOut: []string{`"id":"` + helloSession + `"`}, notWant: []string{utilsSession}},
		{name: "search newest first", tool: "search_sessions", args: map[string]any{"repo": storetest.FixtureRepo, "limit": 2},
			want: []string{"session d04f3c58", "session 1b99b927", "More sessions match"}},
		{name: "search by range", tool: "search_sessions", args: map[string]any{"since": "2026-11-22", "until": "2026-11-23"},
			want: []string{"session " + utilsSession}, notWant: []string{helloSession, "2e8f6bcb"}},
		{name: "search relative range", tool: "search_sessions", args: map[string]any{"since": "7d"},
			want: []string{"session d04f3c58"}, notWant: []string{helloSession}},
		{name: "search nothing", tool: "search_sessions", args: map[string]any{"query": "no such words"}, want: []string{"No session matches."}},
		{name: "search bad range", tool: "search_sessions", args: map[string]any{"since": "last tuesday"}, isError: true,
			want: []string{"not a time"}},
		{name: "get session", tool: "get_session", args: map[string]any{"session_id": helloSession},
			want: []string{"session " + helloSession, "prompt 1 (", "Create hello.py and commit it", "tools: ", "Write: /home/dev/src/demo/hello.py",
				"commit f5e602fdd2e3"},
			wantOut: []string{`"sha":"` + storetest.FixtureSHA + `"`, `"prompt":1`}},
		{name: "get unknown session", tool: "get_session", args: map[string]any{"session_id": "nope"}, isError: true,
			want: []string{`no session "nope"`}},
		{name: "file by base name", tool: "find_file_history", args: map[string]any{"path": "utils.py"},
			want: []string{"session " + utilsSession, "/home/dev/src/demo/utils.py (prompt 1)"}, notWant: []string{"test_utils.py"}},
		{name: "file by absolute path", tool: "find_file_history", args: map[string]any{"path": "/home/dev/src/demo/hello.py"},
			want: []string{"session " + helloSession, "Write /home/dev/src/demo/hello.py"}},
		{name: "file nobody touched", tool: "find_file_history", args: map[string]any{"path": "nope.go"},
			want: []string{"No recorded session touched nope.go."}},
		{name: "commit by full sha", tool: "find_commit", args: map[string]any{"sha": storetest.FixtureSHA},
			want: []string{"commit " + storetest.FixtureSHA, "made in session " + helloSession + ", prompt 1: Create hello.py"}},
		{name: "commit unknown", tool: "find_commit", args: map[string]any{"sha": "deadbeef"}, want: []string{"No recorded session made a commit deadbeef"}},
		{name: "commit bad sha", tool: "find_commit", args: map[string]any{"sha": "xyz"}, isError: true, want: []string{"hex digits"}},
		{name: "cost by model", tool: "cost_report", args: map[string]any{"since": "2026-11-01", "group_by": "model"},
			want: []string{"over 6 sessions", "by model:", "claude-"}, wantOut: []string{`"group_by":"model"`}},
		{name: "cost by day", tool: "cost_report", args: map[string]any{"since": "30d"},
			want: []string{"by day:", "2026-11-20", "2026-11-25"}},
		{name: "cost bad group", tool: "cost_report", args: map[string]any{"group_by": "planet"}, isError: true, want: []string{"group_by"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text, out, isErr := call(t, cs, tc.tool, tc.args)
			if isErr != tc.isError {
				t.Fatalf("isError = %v, want %v: %s", isErr, tc.isError, text)
			}
			rest := text
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("text lacks %q (in order):\n%s", w, text)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("text has %q:\n%s", w, text)
				}
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("structured output lacks %s:\n%s", w, out)
				}
			}
		})
	}
}

// The cost report's rows add up to the store's own totals.
func TestCostReportTotals(t *testing.T) {
	s := mustStore(t)
	cs := stdioClient(t, s)
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), now
	sum, err := s.Summary(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, group := range []string{"day", agenttrace.GroupByModel, agenttrace.GroupByRepo, agenttrace.GroupByUser} {
		_, out, isErr := call(t, cs, "cost_report", map[string]any{"since": "2026-11-01", "group_by": group})
		if isErr {
			t.Fatalf("%s: %s", group, out)
		}
		var got struct {
			Rows []struct {
				CostUSD float64 `json:"cost_usd"`
			} `json:"rows"`
			Totals agenttrace.Summary `json:"totals"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		total := 0.0
		for _, r := range got.Rows {
			total += r.CostUSD
		}
		if d := total - sum.CostUSD; d > 1e-6 || d < -1e-6 || got.Totals.Sessions != sum.Sessions {
			t.Errorf("%s: rows sum to $%f over %d sessions, want $%f over %d", group, total, got.Totals.Sessions, sum.CostUSD, sum.Sessions)
		}
	}
}

// A long session's answer stays bounded: its first and last prompts, the middle left out
// and said so.
func TestGetSessionBounded(t *testing.T) {
	s := mustStore(t)
	evs := storetest.Generate(7, 1, 3000)[0]
	storetest.MustIngest(t, s, evs)
	sess := storetest.MustSession(t, s, evs[0].SessionID)
	n := len(sess.Prompts)
	if n <= 40 {
		t.Fatalf("the generated session has %d prompts; the test needs more than 40", n)
	}
	cs := stdioClient(t, s)
	text, out, isErr := call(t, cs, "get_session", map[string]any{"session_id": sess.ID})
	if isErr {
		t.Fatal(text)
	}
	if len(text) > 60000 || len(out) > 80000 {
		t.Errorf("answer of %d chars of text and %d of structured output; want it bounded", len(text), len(out))
	}
	for _, want := range []string{"\nprompt 1 (", "prompts omitted]", fmt.Sprintf("\nprompt %d (", n)} {
		if !strings.Contains(text, want) {
			t.Errorf("answer lacks %q", want)
		}
	}
}

package storetest

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// testTools: per tool and per MCP server, calls, errors, rejections and nearest-rank
// duration percentiles equal what independent projections of the same sessions give,
// and the failing commands are counted by their first line.
func testTools(t *testing.T, s agenttrace.Store) {
	want := map[string]*toolWant{}
	var batch []event.Event
	for _, evs := range Generate(31, 25, 50) {
		for i := range evs { // some calls become an MCP server's tools
			if evs[i].ToolName == "Glob" || evs[i].ToolName == "Grep" {
				name := "mcp__fs__" + map[string]string{"Glob": "glob", "Grep": "grep"}[evs[i].ToolName]
				evs[i].Payload = bytes.Replace(evs[i].Payload, []byte(`"tool_name":"`+evs[i].ToolName+`"`), []byte(`"tool_name":"`+name+`"`), 1)
				evs[i].ToolName = name
			}
		}
		sess := projection.Project(evs, TestPricer{})
		for _, p := range sess.Prompts {
			addCalls(want, p.ToolCalls, nil)
		}
		batch = append(batch, evs...)
	}
	MustIngest(t, s, batch)
	got, err := s.Tools(ctx(t), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want["mcp__fs__glob"] == nil || want["server fs"] == nil || want["Bash"] == nil || want["Bash"].Errors == 0 {
		t.Fatalf("generated data lacks MCP tools or failing Bash calls; the test proves less")
	}
	checkToolStats(t, "tools", got.Tools, want, "")
	checkToolStats(t, "servers", got.MCPServers, want, "server ")
	if len(got.FailingCommands) == 0 || got.FailingCommands[0].Failures < 1 {
		t.Errorf("failing commands: %+v", got.FailingCommands)
	}
	for i := 1; i < len(got.FailingCommands); i++ {
		if got.FailingCommands[i].Failures > got.FailingCommands[i-1].Failures {
			t.Errorf("failing commands out of order: %+v", got.FailingCommands)
		}
	}
	if empty, err := s.Tools(ctx(t), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil || len(empty.Tools) != 0 {
		t.Errorf("an empty range: %+v, %v", empty, err)
	}
	// Erased sessions take their calls with them.
	if _, err := s.DeleteBefore(ctx(t), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if gone, err := s.Tools(ctx(t), time.Time{}, time.Time{}); err != nil || len(gone.Tools) != 0 || len(gone.FailingCommands) != 0 {
		t.Errorf("after erasing every session: %+v, %v", gone, err)
	}
}

type toolWant struct {
	agenttrace.ToolStat
	durations []int64
}

// addCalls counts calls and their subagents' calls into want, those keep accepts (every
// one for a nil keep).
func addCalls(want map[string]*toolWant, calls []agenttrace.ToolCall, keep func(agenttrace.ToolCall) bool) {
	for _, c := range calls {
		addCalls(want, c.Children, keep)
		if keep != nil && !keep(c) {
			continue
		}
		keys := []string{c.Name}
		if server := mcpServer(c.Name); server != "" {
			keys = append(keys, "server "+server)
		}
		for _, k := range keys {
			w := want[k]
			if w == nil {
				w = &toolWant{}
				want[k] = w
			}
			w.Calls++
			switch c.Status {
			case agenttrace.ToolError:
				w.Errors++
			case agenttrace.ToolRejected:
				w.Rejected++
			}
			if c.Status == agenttrace.ToolOK || c.Status == agenttrace.ToolError {
				w.durations = append(w.durations, c.DurationMS)
			}
		}
	}
}

func mcpServer(name string) string {
	rest, ok := strings.CutPrefix(name, "mcp__")
	if !ok {
		return ""
	}
	server, _, _ := strings.Cut(rest, "__")
	return server
}

func checkToolStats(t *testing.T, what string, got []agenttrace.ToolStat, want map[string]*toolWant, prefix string) {
	t.Helper()
	n := 0
	for k := range want {
		if strings.HasPrefix(k, "server ") == (prefix != "") {
			n++
		}
	}
	if len(got) != n {
		t.Errorf("%s: %d rows, want %d", what, len(got), n)
	}
	for i, g := range got {
		w := want[prefix+g.Name]
		if w == nil {
			t.Errorf("%s: unexpected %q", what, g.Name)
			continue
		}
		slices.Sort(w.durations)
		p := func(q int) int64 {
			if len(w.durations) == 0 {
				return 0
			}
			return w.durations[(q*len(w.durations)+99)/100-1]
		}
		if g.Calls != w.Calls || g.Errors != w.Errors || g.Rejected != w.Rejected || g.P50MS != p(50) || g.P95MS != p(95) {
			t.Errorf("%s %s: %+v; want calls %d errors %d rejected %d p50 %d p95 %d", what, g.Name, g,
				w.Calls, w.Errors, w.Rejected, p(50), p(95))
		}
		if i > 0 && g.Calls > got[i-1].Calls {
			t.Errorf("%s: %s has more calls than the row before it", what, g.Name)
		}
	}
}

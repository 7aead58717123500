package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

const fileDescription = `Find which recorded Claude Code sessions touched a file (read, edited or ` +
	`wrote it, or committed a change to it), newest first, with the calls that touched it and the ` +
	`prompt each came from. path may be absolute or a trailing part such as "store.go" or ` +
	`"internal/sqlite/store.go".`

type fileInput struct {
	Path  string `json:"path" jsonschema:"the file: absolute, or a trailing part of its path such as internal/api/api.go"`
	Repo  string `json:"repo,omitempty" jsonschema:"only sessions in this repository"`
	Limit int    `json:"limit,omitempty" jsonschema:"how many sessions, 1 to 20 (default 5)"`
}

// fileTouch is one call or commit that touched the file.
type fileTouch struct {
	At     string `json:"at"`
	Tool   string `json:"tool"` // the tool's name, or "commit"
	Path   string `json:"path"`
	Status string `json:"status,omitempty"`
	Prompt int    `json:"prompt"` // 1-based index of the prompt it happened in
	Detail string `json:"detail,omitempty"`
}

type fileSession struct {
	sessionHit
	Touches []fileTouch `json:"touches"`
}

type fileOutput struct {
	Sessions []fileSession `json:"sessions"`
	More     bool          `json:"more"`
}

func (s *server) findFileHistory(ctx context.Context, _ *sdk.CallToolRequest, in fileInput) (*sdk.CallToolResult, fileOutput, error) {
	out := fileOutput{Sessions: []fileSession{}}
	path := strings.TrimPrefix(strings.TrimSpace(in.Path), "./")
	if path == "" {
		return nil, out, errors.New("path is required")
	}
	n, err := limit(in.Limit, 5, 20)
	if err != nil {
		return nil, out, err
	}
	page, err := s.store.ListSessions(ctx, agenttrace.SessionFilter{File: path, Repo: in.Repo, Desc: true, Limit: n})
	if err != nil {
		return nil, out, fmt.Errorf("find file history: %w", err)
	}
	out.More = page.NextCursor != ""
	for _, sum := range page.Sessions {
		fs := fileSession{sessionHit: newHit(sum), Touches: []fileTouch{}}
		if sess, err := s.store.Session(ctx, sum.ID); err == nil {
			fs.Touches = touches(sess, path)
		}
		out.Sessions = append(out.Sessions, fs)
	}
	return text(renderFile(path, out)), out, nil
}

// touches lists the calls and commits of sess that touched path, in session order.
func touches(sess *agenttrace.Session, path string) []fileTouch {
	out := []fileTouch{}
	promptOf := map[string]int{}
	var walk func(prompt int, calls []agenttrace.ToolCall)
	walk = func(prompt int, calls []agenttrace.ToolCall) {
		for _, c := range calls {
			if c.FilePath != "" && agenttrace.PathMatches(c.FilePath, path) {
				d := ""
				if c.LinesAdded+c.LinesRemoved > 0 {
					d = fmt.Sprintf("+%d -%d lines", c.LinesAdded, c.LinesRemoved)
				}
				out = append(out, fileTouch{At: stamp(c.StartedAt), Tool: c.Name, Path: c.FilePath, Status: c.Status,
					Prompt: prompt, Detail: d})
			}
			walk(prompt, c.Children)
		}
	}
	for _, p := range sess.Prompts {
		promptOf[p.ID] = p.Index + 1
		walk(p.Index+1, p.ToolCalls)
	}
	for _, c := range sess.Commits {
		for _, f := range c.Files {
			if agenttrace.PathMatches(f, path) {
				out = append(out, fileTouch{At: stamp(c.CommittedAt), Tool: "commit", Path: f, Prompt: promptOf[c.PromptID],
					Detail: shortSHA(c.SHA) + " " + oneLine(c.Message, maxCommandChars)})
			}
		}
	}
	return out
}

func renderFile(path string, out fileOutput) string {
	if len(out.Sessions) == 0 {
		return fmt.Sprintf("No recorded session touched %s.", path)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Sessions that touched %s, newest first:\n", path)
	for _, fs := range out.Sessions {
		b.WriteString(renderHits([]sessionHit{fs.sessionHit}, false))
		for _, t := range fs.Touches {
			fmt.Fprintf(&b, "    %s %s %s (prompt %d)", t.At, t.Tool, t.Path, t.Prompt)
			if t.Status != "" && t.Status != agenttrace.ToolOK {
				fmt.Fprintf(&b, " [%s]", t.Status)
			}
			if t.Detail != "" {
				fmt.Fprintf(&b, " %s", t.Detail)
			}
			b.WriteString("\n")
		}
	}
	if out.More {
		b.WriteString("More sessions touched it: raise limit.\n")
	}
	return b.String()
}

const commitDescription = `Find the recorded Claude Code session that produced a git commit, by its ` +
	`SHA or a prefix of at least 4 hex digits: the commit, its session, and the prompt that made it.`

type commitInput struct {
	SHA string `json:"sha" jsonschema:"the commit's SHA or a prefix of it (at least 4 hex digits)"`
}

type commitHit struct {
	SHA       string     `json:"sha"`
	Message   string     `json:"message,omitempty"`
	Repo      string     `json:"repo,omitempty"`
	Branch    string     `json:"branch,omitempty"`
	At        string     `json:"committed_at"`
	Prompt    int        `json:"prompt,omitempty"` // 1-based index of the prompt that made it
	Asked     string     `json:"prompt_text,omitempty"`
	SessionID string     `json:"session_id"`
	Session   sessionHit `json:"session"`
}

type commitOutput struct {
	Commits []commitHit `json:"commits"`
}

func (s *server) findCommit(ctx context.Context, _ *sdk.CallToolRequest, in commitInput) (*sdk.CallToolResult, commitOutput, error) {
	out := commitOutput{Commits: []commitHit{}}
	sha := strings.TrimSpace(in.SHA)
	if !agenttrace.ValidSHAPrefix(sha) {
		return nil, out, fmt.Errorf("sha %q: want a commit SHA or a prefix of at least 4 hex digits", in.SHA)
	}
	page, err := s.store.Commits(ctx, agenttrace.CommitFilter{SHA: sha, Limit: 10})
	if err != nil {
		return nil, out, fmt.Errorf("find commit: %w", err)
	}
	for _, c := range page.Commits {
		hit := commitHit{SHA: c.SHA, Message: oneLine(c.Message, maxSnippetChars), Repo: c.Repo, Branch: c.Branch,
			At: stamp(c.CommittedAt), SessionID: c.SessionID}
		if sess, err := s.store.Session(ctx, c.SessionID); err == nil {
			hit.Session = newHit(sess.SessionSummary)
			for _, p := range sess.Prompts {
				if p.ID == c.PromptID {
					hit.Prompt, hit.Asked = p.Index+1, oneLine(p.Text, maxSnippetChars)
				}
			}
		}
		out.Commits = append(out.Commits, hit)
	}
	return text(renderCommits(sha, out)), out, nil
}

func renderCommits(sha string, out commitOutput) string {
	if len(out.Commits) == 0 {
		return fmt.Sprintf("No recorded session made a commit %s…; it was made outside Claude Code, or before agent-trace recorded.", sha)
	}
	var b strings.Builder
	for _, c := range out.Commits {
		fmt.Fprintf(&b, "commit %s  %s  %s (%s)\n  %s\n", c.SHA, c.At, c.Repo, c.Branch, c.Message)
		fmt.Fprintf(&b, "  made in session %s", c.SessionID)
		if c.Prompt > 0 {
			fmt.Fprintf(&b, ", prompt %d: %s", c.Prompt, c.Asked)
		}
		b.WriteString("\n")
		if c.Session.ID != "" {
			b.WriteString(indent(renderHits([]sessionHit{c.Session}, false), "  "))
		}
	}
	return b.String()
}

func indent(s, by string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "")
}

// Package mcp is agent-trace's Model Context Protocol edge: a server whose tools let
// Claude Code ask its own history (search past sessions, read one, find which session
// touched a file or made a commit, report cost) over the store's read ports. It serves
// stdio (agent-trace-server mcp) and streamable HTTP (/mcp on the API port); who may call
// it is decided by the caller (the API's auth guards /mcp), not here.
package mcp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// ServerName is the name the server reports, and the one init registers it under, so
// Claude Code names its tools mcp__agent-trace__<tool>.
const ServerName = "agent-trace"

// Store is what the tools read: sessions and git outcomes, and cost.
type Store interface {
	agenttrace.Reader
	agenttrace.Analytics
}

// Options configure a server.
type Options struct {
	Version string           // reported to clients; "dev" when empty
	Now     func() time.Time // the clock relative ranges ("7d") count back from; time.Now when nil
	Logger  *slog.Logger     // transport errors; nil discards them
}

// server holds what every tool handler needs.
type server struct {
	store Store
	now   func() time.Time
}

// NewServer builds the MCP server with every tool registered.
func NewServer(store Store, opts Options) *sdk.Server {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &server{store: store, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	srv := sdk.NewServer(&sdk.Implementation{Name: ServerName, Title: "agent-trace", Version: opts.Version},
		&sdk.ServerOptions{
			Instructions: "agent-trace records every Claude Code session: prompts, tool calls, commits and cost. " +
				"Use these tools to answer questions about past work: what was tried before, which session " +
				"changed a file or made a commit, and what it cost.",
			Logger: quiet(opts.Logger),
		})
	s.register(srv)
	return srv
}

// register adds the tools. Every one only reads.
func (s *server) register(srv *sdk.Server) {
	ro := &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)}
	sdk.AddTool(srv, &sdk.Tool{Name: "search_sessions", Annotations: ro, Description: searchDescription}, s.searchSessions)
	sdk.AddTool(srv, &sdk.Tool{Name: "get_session", Annotations: ro, Description: getDescription}, s.getSession)
	sdk.AddTool(srv, &sdk.Tool{Name: "find_file_history", Annotations: ro, Description: fileDescription}, s.findFileHistory)
	sdk.AddTool(srv, &sdk.Tool{Name: "find_commit", Annotations: ro, Description: commitDescription}, s.findCommit)
	sdk.AddTool(srv, &sdk.Tool{Name: "cost_report", Annotations: ro, Description: costDescription}, s.costReport)
}

// HTTPHandler serves the server over streamable HTTP, statelessly: every request stands
// alone, so the API keeps no MCP sessions and any replica can answer any request.
func HTTPHandler(store Store, opts Options) http.Handler {
	srv := NewServer(store, opts)
	return sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv },
		&sdk.StreamableHTTPOptions{Stateless: true, JSONResponse: true, Logger: quiet(opts.Logger)})
}

// Serve runs the server on one connection, newline-delimited JSON-RPC over in and out
// (stdio), until the client disconnects or ctx ends.
func Serve(ctx context.Context, store Store, opts Options, in io.ReadCloser, out io.WriteCloser) error {
	srv := NewServer(store, opts)
	if err := srv.Run(ctx, &sdk.IOTransport{Reader: in, Writer: out}); err != nil && ctx.Err() == nil {
		return fmt.Errorf("serve mcp: %w", err)
	}
	return nil
}

// text is a tool result of one text block; the SDK adds the structured output beside it.
func text(s string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
}

// quiet keeps a logger's warnings and errors only: the SDK logs every connection at
// info, and over stateless HTTP every request is one.
func quiet(l *slog.Logger) *slog.Logger {
	if l == nil {
		return nil
	}
	return slog.New(minLevel{l.Handler(), slog.LevelWarn})
}

// minLevel is a slog.Handler that drops records below its level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

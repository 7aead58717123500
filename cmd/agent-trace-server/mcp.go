package main

import (
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/agent-trace/agent-trace/internal/mcp"
)

// newMCPCommand serves the MCP server on stdin and stdout over the store the flags
// name, for a Claude Code on the machine that holds the database.
func newMCPCommand(sf *storeFlags, stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "mcp",
		Short: "Serve the MCP server on stdin/stdout, so Claude Code can ask its own history",
		Long: `Serve agent-trace's MCP server over stdio (newline-delimited JSON-RPC on stdin and
stdout), reading the database directly: the same --db, or --postgres and --clickhouse,
as serve. Its tools search past sessions (search_sessions), read one (get_session),
find which sessions touched a file (find_file_history) or made a commit (find_commit),
and report cost over a range (cost_report). They only read.

Claude Code starts it itself once registered, e.g.:
  claude mcp add --scope user agent-trace -- agent-trace-server mcp

A running server offers the same tools over streamable HTTP at /mcp on the API port
(http://127.0.0.1:8318/mcp), which needs a read token when auth is on;
agent-trace-hook init --mcp registers that with Claude Code.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openStore(cmd.Context(), sf.config(), false)
			if err != nil {
				return err
			}
			defer s.Close()
			// stdout carries the protocol alone; anything else goes to stderr.
			logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			return mcp.Serve(cmd.Context(), s, mcp.Options{Version: buildVersion(), Logger: logger},
				io.NopCloser(cmd.InOrStdin()), nopWriteCloser{stdout})
		},
	}
}

// nopWriteCloser leaves the process's stdout open when the MCP connection closes.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

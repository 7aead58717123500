package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/buildinfo"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise it comes
// from the module's build info.
var version = ""

// exitError carries a command's exit code; its message is the one line printed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Run runs agent-trace-hook with args and returns the process exit code. Nothing here
// writes to the process's own stdout or stderr: commands get the writers passed in.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// The capture path skips cobra entirely: it is the hot path, and it must never
	// print a usage message to Claude Code, whatever the arguments look like.
	if len(args) == 0 || (len(args) == 1 && args[0] == "capture") {
		if isTerminal(stdin) {
			// A person typed the bare command: Claude Code always pipes a payload.
			fmt.Fprintln(stderr, "agent-trace-hook reads a Claude Code hook payload on stdin; see `agent-trace-hook --help`.")
			return 0
		}
		runCapture(stdin, agentconfig.Home(), time.Now())
		return 0
	}
	root := newRoot(ctx, stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "agent-trace-hook:", err)
	return 1
}

func newRoot(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "agent-trace-hook",
		Short: "Capture Claude Code hook events and deliver them to agent-trace",
		Long: `agent-trace-hook is the sidecar Claude Code runs on every hook event.

Run without arguments (what Claude Code does), it reads one hook payload on stdin,
applies your privacy tier and secret redaction, appends the event to a local spool
($AGENT_TRACE_HOME/spool.db, default ~/.agent-trace) and exits 0 without printing
anything. A background deliverer sends the spool to the collector in batches, and
keeps events safe while the collector is down; it is agent-trace-deliver, which must
sit next to this binary (or on PATH).

Start with:  agent-trace-hook init --collector-url http://127.0.0.1:8317 --privacy-tier 2`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	root.AddCommand(
		captureCmd(stdin),
		initCmd(stdout),
		uninstallCmd(stdout),
		statusCmd(stdout),
		flushCmd(stdin, stdout, stderr),
		importCmd(stdout, stderr),
		versionCmd(stdout),
	)
	return root
}

func captureCmd(stdin io.Reader) *cobra.Command {
	return &cobra.Command{
		Use:   "capture",
		Short: "Capture one hook payload from stdin (the default; what Claude Code runs)",
		Long: `Read one Claude Code hook payload on stdin, apply the privacy tier and secret
redaction, append it to the spool and start the background deliverer if none runs.

It prints nothing and exits 0 in every case (bad input, a locked spool, a full disk, a
missing config): Claude Code must never be slowed down or broken by it. Diagnostics go
to $AGENT_TRACE_HOME/hook.log.`,
		Args: cobra.ArbitraryArgs,
		// Whatever Claude Code passes, capture must not fail on flag parsing.
		DisableFlagParsing: true,
		Run: func(cmd *cobra.Command, args []string) {
			// Flag parsing is off, so help is asked for by hand; Claude Code never
			// passes arguments, so a lone --help is a person.
			if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
				_ = cmd.Help()
				return
			}
			runCapture(stdin, agentconfig.Home(), time.Now())
		},
	}
}

func versionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(stdout, "agent-trace-hook", buildVersion())
			return err
		},
	}
}

func buildVersion() string { return buildinfo.Version(version) }

// isTerminal reports whether r is a terminal (a console on Windows); a pipe, a file and
// the null device are not.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// selfPath is this binary's absolute path with symlinks resolved: what init writes into
// settings.json and what capture starts the deliverer from.
func selfPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own binary: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Abs(exe)
}

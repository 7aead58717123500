package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// delivererName is the binary that delivers the spool. It is separate so this one, which
// Claude Code starts on every hook event, links no HTTP delivery or git code.
const delivererName = "agent-trace-deliver"

// errNoDeliverer is why delivery cannot start: the deliverer binary is neither next to
// this one nor on PATH. Its message is the one line status and flush print.
type errNoDeliverer struct{ dir string }

func (e *errNoDeliverer) Error() string {
	return fmt.Sprintf("deliverer binary not found next to %s (install %s beside agent-trace-hook)", e.dir, delivererName)
}

// delivererPath finds agent-trace-deliver: next to this binary first (symlinks resolved,
// so a symlinked hook finds the deliverer of its own release), else on PATH.
func delivererPath() (string, error) {
	self, err := selfPath()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(self), delivererName+exeSuffix)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && isExecutable(st.Mode()) {
		return p, nil
	}
	if p, err := exec.LookPath(delivererName); err == nil {
		return p, nil
	}
	return "", &errNoDeliverer{dir: self}
}

func flushCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "flush",
		Short: "Deliver everything in the spool now, in the foreground",
		Long: `Deliver every pending event to the collector now and report.

Exits 0 once the spool is empty, non-zero with a one-line reason when it could not
deliver (collector down, token refused). A failed delivery leaves the events in the
spool. With --wait it keeps retrying with backoff until the spool is empty, the
collector refuses the token, --timeout passes or you press Ctrl-C.

A flush also clears a stop recorded after a 401/403, so run it after fixing the token.
It runs agent-trace-deliver, which must sit next to agent-trace-hook (or on PATH).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			argv := []string{"--foreground"}
			if wait {
				argv = append(argv, "--wait")
			}
			if timeout != 0 {
				argv = append(argv, "--timeout", timeout.String())
			}
			return runForegroundDeliverer(cmd.Context(), stdin, stdout, stderr, "flush", argv)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "keep retrying until the spool is empty")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: no limit)")
	return cmd
}

// runForegroundDeliverer runs agent-trace-deliver in the foreground with argv, for flush and
// import. The deliverer prints its summary and one-line reason itself; its exit code
// becomes this command's.
func runForegroundDeliverer(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, what string, argv []string) error {
	bin, err := delivererPath()
	if err != nil {
		return &exitError{code: 1, msg: what + ": " + err.Error()}
	}
	c := exec.CommandContext(ctx, bin, argv...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	// When this process is interrupted or terminated, ask the deliverer to stop the same
	// way rather than killing it: it keeps what it could not send and prints its
	// summary. (On Ctrl-C it gets the terminal's SIGINT as well.)
	c.Cancel = func() error { return stopGently(c.Process) }
	err = c.Run()
	if c.ProcessState == nil {
		return &exitError{code: 1, msg: what + ": run " + bin + ": " + oneLine(err.Error())}
	}
	switch code := c.ProcessState.ExitCode(); {
	case code == 0:
		return nil
	case code < 0:
		return &exitError{code: 1} // killed by a signal
	default:
		return &exitError{code: code}
	}
}

func oneLine(s string) string {
	for i, r := range s {
		if r == '\n' || r == '\r' {
			return s[:i]
		}
	}
	return s
}

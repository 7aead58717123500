package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/buildinfo"
	"github.com/agent-trace/agent-trace/internal/claudesettings"
	"github.com/agent-trace/agent-trace/internal/deliver"
	"github.com/agent-trace/agent-trace/internal/progress"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/lease"
	"github.com/spf13/cobra"
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

// Run runs agent-trace-deliver with args and returns the process exit code. Output goes
// only to the writers passed in.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
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
	fmt.Fprintln(stderr, "agent-trace-deliver:", err)
	return 2
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var foreground, wait, showProgress bool
	var timeout time.Duration
	var probeURL, otlpStatusURL string
	root := &cobra.Command{
		Use:   "agent-trace-deliver",
		Short: "Send the agent-trace spool to the collector (started by agent-trace-hook)",
		Long: `agent-trace-deliver sends the events agent-trace-hook captured to the collector:
it folds the inbox into the spool, adds token usage from Claude Code's transcripts and
the commits git made, and POSTs batches with retries. Events leave the spool only once
the collector has them.

You never need to run it yourself. agent-trace-hook starts it in the background after a
capture (it must sit next to agent-trace-hook, or on PATH), and
` + "`agent-trace-hook flush`" + ` runs it in the foreground; use that instead.

Without flags it is the background deliverer: it delivers, waits 2 s for more events,
and exits; problems go to $AGENT_TRACE_HOME/hook.log. With --foreground it delivers
everything now and reports: exit 0 once the spool is empty, non-zero with a one-line
reason otherwise.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if probeURL != "" {
				_, err := fmt.Fprintln(stdout, probe(cmd.Context(), probeURL))
				return err
			}
			if otlpStatusURL != "" {
				// The token is the one delivery sends: config file, then AGENT_TRACE_TOKEN.
				cfg, _ := agentconfig.LoadConfig(agentconfig.Home())
				device := claudesettings.DeviceID()
				_, err := fmt.Fprintln(stdout, otlpStatus(cmd.Context(), otlpStatusURL, cfg.Token, device, time.Now()))
				return err
			}
			if foreground {
				var bar io.Writer
				if showProgress {
					bar = stderr
				}
				return runForeground(cmd.Context(), stdout, bar, wait, timeout)
			}
			if wait || timeout != 0 || showProgress {
				return &exitError{code: 2, msg: "agent-trace-deliver: --wait, --timeout and --progress need --foreground"}
			}
			return runBackground(cmd.Context())
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.Flags()
	f.BoolVar(&foreground, "foreground", false, "deliver everything now and report (what agent-trace-hook flush runs)")
	f.BoolVar(&wait, "wait", false, "with --foreground: keep retrying until the spool is empty")
	f.DurationVar(&timeout, "timeout", 0, "with --foreground: give up after this long (0: no limit)")
	f.BoolVar(&showProgress, "progress", false, "with --foreground: draw a progress bar on stderr (what agent-trace-hook import runs)")
	// `agent-trace-hook status` asks the deliverer to check the collector, so the hook
	// links no HTTP client.
	f.StringVar(&probeURL, "probe", "", "print whether the collector at this base URL answers GET /healthz (1 s timeout)")
	_ = f.MarkHidden("probe")
	// And when the server last received Claude Code's telemetry (status, init --otel).
	f.StringVar(&otlpStatusURL, "otlp-status", "", "print when the collector at this base URL last received OTel (GET /v1/otlp/status, 2 s timeout)")
	_ = f.MarkHidden("otlp-status")
	return root
}

// probe asks the collector's health endpoint, giving up after a second, and says what
// it found in a few words for `agent-trace-hook status`.
func probe(ctx context.Context, base string) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/healthz", nil)
	if err != nil {
		return "bad URL: " + oneLine(err.Error())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "unreachable: " + oneLine(err.Error())
	}
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return fmt.Sprintf("reachable (HTTP %d)", resp.StatusCode)
	}
	return fmt.Sprintf("answers HTTP %d on /healthz", resp.StatusCode)
}

// deliverOptions builds the deliverer's options from the hook's config.
func deliverOptions(home string, cfg agentconfig.Config) deliver.Options {
	logf := func(format string, args ...any) { agentconfig.Logf(home, format, args...) }
	opts := deliver.Options{
		Home:         home,
		Spool:        spool.Options{MaxBytes: cfg.SpoolMaxBytes, Logf: logf},
		CollectorURL: cfg.CollectorURL,
		Token:        cfg.Token,
		Logf:         logf,
	}
	deliver.Wire(&opts)
	return opts
}

// runBackground is the deliverer a capture started: detached, its output on /dev/null,
// so everything worth knowing goes to hook.log.
func runBackground(ctx context.Context) error {
	home := agentconfig.Home()
	cfg, err := agentconfig.LoadConfig(home)
	if err != nil {
		agentconfig.Logf(home, "deliver: config: %v", err)
	}
	opts := deliverOptions(home, cfg)
	opts.Linger = 2 * time.Second
	if fd := os.Getenv(lease.FDEnv); fd != "" {
		os.Unsetenv(lease.FDEnv)
		n, perr := strconv.Atoi(fd)
		if perr != nil {
			return &exitError{code: 2, msg: "agent-trace-deliver: bad " + lease.FDEnv}
		}
		l, lerr := lease.Inherit(os.NewFile(uintptr(n), lease.LockFile))
		if lerr != nil {
			agentconfig.Logf(home, "deliver: inherited lock: %v", lerr)
			return nil
		}
		opts.Lease = l
	}
	_, err = deliver.Run(ctx, opts)
	switch {
	case err == nil, errors.Is(err, deliver.ErrBusy):
		return nil
	default:
		// The deliverer logged the failure once already; the exit code is for whoever
		// runs it by hand.
		return &exitError{code: 1}
	}
}

// runForeground is the engine of `agent-trace-hook flush` (and of import's delivery):
// its stdout summary, its one-line reason on failure and its exit code are what the user
// sees. With bar set it draws a progress bar there.
func runForeground(ctx context.Context, stdout, bar io.Writer, wait bool, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	home := agentconfig.Home()
	cfg, err := agentconfig.LoadConfig(home)
	if err != nil {
		return &exitError{code: 2, msg: "flush: " + err.Error()}
	}
	if err := spool.ClearStop(spool.Path(home)); err != nil {
		return &exitError{code: 1, msg: "flush: " + err.Error()}
	}
	opts := deliverOptions(home, cfg)
	opts.Wait = wait
	if bar != nil {
		opts.OnSent = sentBar(bar, home)
	}
	res, err := runExclusive(ctx, opts)
	if opts.OnSent != nil {
		opts.OnSent(-1) // end the bar's line before the summary
	}
	st, serr := spoolStats(home)
	if err == nil && serr == nil && st.Pending > 0 {
		err = fmt.Errorf("%d events still pending", st.Pending)
	}
	summary := fmt.Sprintf("sent %d events", res.Sent)
	if res.DeadLettered > 0 {
		summary += fmt.Sprintf(", dead-lettered %d (see status)", res.DeadLettered)
	}
	if err != nil {
		pending := ""
		if serr == nil {
			pending = fmt.Sprintf("; %d events kept in the spool", st.Pending)
		}
		fmt.Fprintf(stdout, "flush: %s%s\n", summary, pending)
		return &exitError{code: 1, msg: "flush: could not deliver: " + oneLine(err.Error())}
	}
	fmt.Fprintf(stdout, "flush: %s; spool empty\n", summary)
	return nil
}

// sentBar draws delivery's progress against what the spool held at the start; called
// with -1 it ends the bar's line.
func sentBar(w io.Writer, home string) func(sent int) {
	var total int64
	if st, err := spoolStats(home); err == nil {
		total = int64(st.Pending)
	}
	b := &progress.Bar{W: w, Label: "delivering", Unit: func(done, total int64) string {
		return fmt.Sprintf("%d / %d events", done, total)
	}}
	return func(sent int) {
		if sent < 0 {
			b.Done()
			return
		}
		// Enrichment adds events (usage, commits) as it goes: the total grows with them.
		total = max(total, int64(sent))
		b.Update(int64(sent), total)
	}
}

// runExclusive runs the deliverer in the foreground, first waiting for a background
// deliverer to finish (it lingers about 2 s once the spool is empty).
func runExclusive(ctx context.Context, opts deliver.Options) (deliver.Result, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := deliver.Run(ctx, opts)
		if !errors.Is(err, deliver.ErrBusy) {
			return res, err
		}
		if !opts.Wait && time.Now().After(deadline) {
			return res, errors.New("another deliverer has been running for 15 s; try again or use --wait")
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func spoolStats(home string) (spool.Stats, error) {
	s, err := spool.Open(spool.Path(home), spool.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return spool.Stats{}, err
	}
	defer s.Close()
	return s.Stats()
}

func oneLine(s string) string {
	for i, r := range s {
		if r == '\n' || r == '\r' {
			return s[:i]
		}
	}
	return s
}

func buildVersion() string { return buildinfo.Version(version) }

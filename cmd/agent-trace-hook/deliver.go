package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/agent-trace/agent-trace/hook"
	"github.com/agent-trace/agent-trace/spool"
	"github.com/agent-trace/agent-trace/spool/deliver"
	"github.com/spf13/cobra"
)

// deliverOptions builds the deliverer's options from the hook's config.
func deliverOptions(home string, cfg hook.Config) deliver.Options {
	logf := func(format string, args ...any) { hook.Logf(home, format, args...) }
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

func deliverCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "deliver",
		Short:  "Deliver the spool in the background (started by capture)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			home := hook.Home()
			cfg, err := hook.LoadConfig(home)
			if err != nil {
				hook.Logf(home, "deliver: config: %v", err)
			}
			opts := deliverOptions(home, cfg)
			opts.Linger = 2 * time.Second
			if fd := os.Getenv(leaseFDEnv); fd != "" {
				os.Unsetenv(leaseFDEnv)
				n, perr := strconv.Atoi(fd)
				if perr != nil {
					return &exitError{code: 2, msg: "deliver: bad " + leaseFDEnv}
				}
				lease, lerr := deliver.Inherit(os.NewFile(uintptr(n), deliver.LockFile))
				if lerr != nil {
					hook.Logf(home, "deliver: inherited lock: %v", lerr)
					return nil
				}
				opts.Lease = lease
			}
			_, err = deliver.Run(cmd.Context(), opts)
			switch {
			case err == nil, errors.Is(err, deliver.ErrBusy):
				return nil
			default:
				// The deliverer logged the failure once already; the exit code is for
				// whoever runs it by hand.
				return &exitError{code: 1}
			}
		},
	}
}

func flushCmd(stdout, stderr io.Writer) *cobra.Command {
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

A flush also clears a stop recorded after a 401/403, so run it after fixing the token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			home := hook.Home()
			cfg, err := hook.LoadConfig(home)
			if err != nil {
				return &exitError{code: 2, msg: "flush: " + err.Error()}
			}
			if err := clearStop(home); err != nil {
				return &exitError{code: 1, msg: "flush: " + err.Error()}
			}
			opts := deliverOptions(home, cfg)
			opts.Wait = wait
			res, err := runExclusive(ctx, opts)
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
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "keep retrying until the spool is empty")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: no limit)")
	return cmd
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

// clearStop forgets a recorded 401/403 stop and the backoff, because a person asked to
// deliver now. A spool that does not exist yet has nothing to clear.
func clearStop(home string) error {
	s, err := spool.Open(spool.Path(home), spool.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()
	return s.UpdateMeta(func(m *spool.Meta) { m.Stopped, m.RetryAt = "", time.Time{} })
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

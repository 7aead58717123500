package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/capture"
	"github.com/agent-trace/agent-trace/internal/privacy"
	"github.com/agent-trace/agent-trace/internal/progress"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/readstate"
	"github.com/agent-trace/agent-trace/internal/transcript"
	"github.com/spf13/cobra"
)

func importCmd(stdout, stderr io.Writer) *cobra.Command {
	var noProgress, noSend bool
	cmd := &cobra.Command{
		Use:   "import [PATH]",
		Short: "Backfill past sessions from Claude Code's transcripts into the spool",
		Long: `Read every transcript (*.jsonl, subagents included) under PATH, default
~/.claude/projects (or $CLAUDE_CONFIG_DIR/projects), and append what they record to the
spool: token usage per API response, Claude Code's own cost totals, prompts and tool
calls, at your privacy tier and with secrets redacted.

Events get the same IDs live capture gives them, so sessions that were also captured
live are not counted twice. Then it delivers them to the collector, as
` + "`agent-trace-hook flush`" + ` does; with --no-send they only go to the spool, for a later flush.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			home := agentconfig.Home()
			cfg, err := agentconfig.LoadConfig(home)
			if err != nil {
				return &exitError{code: 2, msg: "import: " + err.Error()}
			}
			root, err := importRoot(args)
			if err != nil {
				return err
			}
			var warnings int
			opts := transcript.ImportOptions{
				Tier: cfg.Tier,
				Build: func(raw []byte, at time.Time) ([]event.Event, error) {
					evts, err := capture.Build(raw, cfg, at)
					// Build reads HEAD as it is now; a past event must not carry it, or
					// the deliverer would compare today's HEAD with itself.
					for i := range evts {
						evts[i].Git = nil
					}
					return evts, err
				},
				Warn: func(path string, err error) {
					warnings++
					agentconfig.Logf(home, "import %s: %v", path, err)
				},
			}
			var total int
			emit := func(evts []event.Event) error {
				for i := range evts {
					// Usage read from the transcript (its tier-3 text) never went
					// through capture.Build's redaction; hook events did.
					if evts[i].Kind != event.KindHook {
						privacy.RedactEvent(&evts[i])
					}
					if evts[i].User == "" {
						evts[i].User = cfg.User
					}
					if evts[i].Host == "" {
						evts[i].Host = cfg.Host
					}
				}
				s, err := spool.Open(spool.Path(home), spool.Options{LockTimeout: 5 * time.Second, MaxBytes: cfg.SpoolMaxBytes})
				if err != nil {
					return err
				}
				defer s.Close()
				if _, err := s.Append(evts...); err != nil {
					return err
				}
				total += len(evts)
				return nil
			}
			bar := &progress.Bar{W: stderr, Off: noProgress, Label: "importing",
				Unit: func(done, total int64) string { return progress.Bytes(done) + " / " + progress.Bytes(total) }}
			start := time.Now()
			err = transcript.Import(root, opts, emit, bar.Update)
			bar.Done()
			if err != nil {
				return fmt.Errorf("import %s: %w", root, err)
			}
			// The imported hook events name their transcripts; without this the
			// deliverer would read them all again and send every usage event twice.
			if err := readstate.MarkTranscriptsRead(home, spool.Options{LockTimeout: 5 * time.Second}, transcriptFiles(root)); err != nil {
				agentconfig.Logf(home, "import: mark transcripts read: %v", err)
			}
			fmt.Fprintf(stdout, "import: %d events from %s in %s into the spool", total, root, time.Since(start).Round(time.Millisecond))
			if warnings > 0 {
				fmt.Fprintf(stdout, " (%d payloads skipped; see hook.log)", warnings)
			}
			fmt.Fprintln(stdout)
			return deliverImported(cmd.Context(), stdout, stderr, total, noSend, noProgress)
		},
	}
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw the progress bars on stderr")
	cmd.Flags().BoolVar(&noSend, "no-send", false, "only append to the spool; deliver later with flush")
	return cmd
}

// importRoot is the folder import reads: the argument, else Claude Code's projects
// folder; absolute, so the transcript_path the imported events carry means the same
// file to the deliverer whatever its working directory.
func importRoot(args []string) (string, error) {
	root := ""
	if len(args) == 1 {
		root = args[0]
	} else {
		var err error
		if root, err = transcript.DefaultRoot(); err != nil {
			return "", fmt.Errorf("import: %w", err)
		}
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return root, nil
}

// deliverImported delivers the total events import spooled, as flush would (the user
// ran import to see these sessions, not to fill the spool), unless noSend.
func deliverImported(ctx context.Context, stdout, stderr io.Writer, total int, noSend, noProgress bool) error {
	if noSend || total == 0 {
		if total > 0 {
			fmt.Fprintln(stdout, "next: `agent-trace-hook flush` delivers them")
		}
		return nil
	}
	argv := []string{"--foreground"}
	if !noProgress {
		argv = append(argv, "--progress")
	}
	if err := runForegroundDeliverer(ctx, nil, stdout, stderr, "import", argv); err != nil {
		fmt.Fprintln(stdout, "import: the events stay in the spool; the next hook or `agent-trace-hook flush` delivers them")
		return err
	}
	return nil
}

// transcriptFiles lists the *.jsonl files under root, as Import reads them.
func transcriptFiles(root string) []string {
	var out []string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".jsonl") {
			if abs, err := filepath.Abs(path); err == nil {
				out = append(out, abs)
			}
		}
		return nil
	})
	return out
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/claudesettings"
	"github.com/agent-trace/agent-trace/internal/progress"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/lease"
	"github.com/spf13/cobra"
)

func statusCmd(stdout io.Writer) *cobra.Command {
	var showDead int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether hooks and telemetry are installed, the collector answers and events wait",
		Long: `Show the hooks registered in Claude Code's settings.json, whether the collector
answers (GET /healthz, 1 s timeout), whether settings.json wires Claude Code's own
telemetry (init --otel) and when the server last received some (GET /v1/otlp/status;
a server without it is too old for OTel), whether Claude Code's global config registers
agent-trace's MCP server (init --mcp), and the spool: pending events and the oldest one's
age, the last successful delivery, dead letters, events or bodies dropped at the size
cap, the last delivery error and whether delivery is stopped.

--dead-letters N lists the newest N events the collector rejected, with its reasons.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), &statusWriter{w: stdout}, showDead)
		},
	}
	cmd.Flags().IntVar(&showDead, "dead-letters", 0, "also list the newest N dead letters")
	return cmd
}

// runStatus writes every status line: the setup, then what the spool says.
func runStatus(ctx context.Context, w *statusWriter, showDead int) error {
	home := agentconfig.Home()
	now := time.Now()
	cfg, cerr := agentconfig.LoadConfig(home)
	if cerr != nil {
		w.line("config", "problem: %v", cerr)
	}
	statusHooks(w)
	collector := probe(ctx, cfg.CollectorURL)
	w.line("collector", "%s: %s", cfg.CollectorURL, collector)
	w.line("privacy tier", "%d", cfg.Tier)
	statusOTel(ctx, w, cfg, strings.HasPrefix(collector, "reachable"))
	statusMCP(w, cfg)
	if p, err := delivererPath(); err != nil {
		w.line("deliverer", "%v", err)
	} else {
		w.line("deliverer", "%s", p)
	}

	st, letters, err := readSpool(home, showDead)
	if err != nil {
		w.line("spool", "%v", err)
		return w.err
	}
	statusPending(w, home, now, st)
	statusDelivery(w, home, now, st)
	if moved := spool.CorruptFiles(home); len(moved) > 0 {
		w.line("corrupt spools", "%d moved aside: %s", len(moved), strings.Join(moved, ", "))
	}
	statusDeadLetters(w, letters[max(0, len(letters)-showDead):])
	return w.err
}

// statusHooks reports whether Claude Code's settings register this binary's hooks.
func statusHooks(w *statusWriter) {
	bin, _ := selfPath()
	settings := claudesettings.SettingsPath()
	if evs, err := claudesettings.InstalledEvents(settings, bin); err != nil {
		w.line("hooks", "cannot read %s: %v", settings, err)
	} else if len(evs) == 0 {
		w.line("hooks", "not installed in %s (run `agent-trace-hook init`)", settings)
	} else {
		w.line("hooks", "installed in %s for %d events: %s", settings, len(evs), strings.Join(evs, ", "))
	}
	if off, err := claudesettings.HooksDisabled(settings); err == nil && off {
		w.line("hooks", "DISABLED: %s sets disableAllHooks, so Claude Code runs none of them", settings)
	}
}

// readSpool reads the spool's statistics and, when showDead > 0, its dead letters,
// holding the spool no longer than that.
func readSpool(home string, showDead int) (spool.Stats, []spool.DeadLetter, error) {
	s, err := spool.Open(spool.Path(home), spool.Options{LockTimeout: time.Second})
	if err != nil {
		return spool.Stats{}, nil, fmt.Errorf("cannot open %s: %w", spool.Path(home), err)
	}
	st, err := s.Stats()
	var letters []spool.DeadLetter
	if err == nil && showDead > 0 {
		letters, err = s.DeadLetters()
	}
	s.Close()
	if err != nil {
		return spool.Stats{}, nil, fmt.Errorf("cannot read %s: %w", spool.Path(home), err)
	}
	return st, letters, nil
}

// statusPending reports what waits for delivery and what was delivered, rejected or
// dropped so far.
func statusPending(w *statusWriter, home string, now time.Time, st spool.Stats) {
	pending := fmt.Sprintf("%d events (%s)", st.Pending, humanBytes(st.Bytes))
	if st.Pending > 0 && !st.OldestPending.IsZero() {
		pending += fmt.Sprintf(", oldest captured %s ago", age(now, st.OldestPending))
	}
	if files, _ := spool.InboxFiles(home); len(files) > 0 {
		pending += fmt.Sprintf(", plus %d inbox files", len(files))
	}
	w.line("pending", "%s", pending)
	if st.LastDelivery.IsZero() {
		w.line("last delivery", "never")
	} else {
		w.line("last delivery", "%s ago (%s); %d events delivered in all", age(now, st.LastDelivery), st.LastDelivery.Local().Format(time.DateTime), st.DeliveredEvents)
	}
	w.line("dead letters", "%d", st.DeadLetters)
	w.line("dropped at cap", "%d tier-3 bodies, %d events, %d old dead letters", st.DroppedBodies, st.DroppedEvents, st.DroppedLetters)
	if st.LastError != "" {
		w.line("last error", "%s (%s ago)", st.LastError, age(now, st.LastErrorAt))
	} else {
		w.line("last error", "none")
	}
}

// statusDelivery reports whether delivery is stopped, running, backing off or idle.
func statusDelivery(w *statusWriter, home string, now time.Time, st spool.Stats) {
	switch {
	case st.Stopped != "":
		w.line("delivery", "STOPPED: %s (fix it, then run `agent-trace-hook flush`)", st.Stopped)
	case lease.Running(home):
		w.line("delivery", "a deliverer is running")
	case now.Before(st.RetryAt):
		w.line("delivery", "backing off; next background try in %s", age(st.RetryAt, now))
	default:
		w.line("delivery", "idle")
	}
}

// statusDeadLetters lists dead letters with the collector's reasons.
func statusDeadLetters(w *statusWriter, letters []spool.DeadLetter) {
	for _, d := range letters {
		var e struct {
			ID        string `json:"id"`
			Kind      string `json:"kind"`
			HookEvent string `json:"hook_event"`
		}
		_ = json.Unmarshal(d.Event, &e)
		w.line("dead letter", "%s %s %s %s: %s", d.Time.Local().Format(time.DateTime), e.ID, e.Kind, e.HookEvent, d.Reason)
	}
}

type statusWriter struct {
	w   io.Writer
	err error
}

func (s *statusWriter) line(label, format string, args ...any) {
	if s.err != nil {
		return
	}
	_, s.err = fmt.Fprintf(s.w, "%-16s %s\n", label+":", fmt.Sprintf(format, args...))
}

// probe asks agent-trace-deliver whether the collector answers: the HTTP client lives
// there, so this binary, started on every hook event, does not link one.
func probe(ctx context.Context, base string) string {
	if base == "" {
		return "not configured"
	}
	return runDeliverer(ctx, "--probe", base)
}

// runDeliverer runs agent-trace-deliver with args and returns the one line it prints.
func runDeliverer(ctx context.Context, args ...string) string {
	bin, err := delivererPath()
	if err != nil {
		return "not checked: " + err.Error()
	}
	// The deliverer gives up on the collector after 1-2 s; this bounds its own start.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return "not checked: " + oneLine(err.Error())
	}
	return oneLine(strings.TrimSpace(string(out)))
}

func age(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return d.Round(time.Minute).String()
	}
}

func humanBytes(n int64) string { return progress.Bytes(n) }

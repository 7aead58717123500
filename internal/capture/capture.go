package capture

import (
	"fmt"
	"io"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
)

// Capture is the whole capture path short of the spool: read one payload from stdin (at
// most MaxReadBytes; the rest is drained so Claude Code never sees a broken pipe),
// load the config from home and Build the events. A config that cannot be read is logged
// to hook.log and the events are built at tier 1. The config is returned too, so the
// caller reads config.json once per hook run. A non-nil error means there is nothing to
// spool; the caller logs it and exits 0 regardless.
func Capture(stdin io.Reader, home string, now time.Time) ([]event.Event, agentconfig.Config, error) {
	raw, err := io.ReadAll(io.LimitReader(stdin, MaxReadBytes+1))
	if err != nil {
		return nil, agentconfig.Config{}, fmt.Errorf("read stdin: %w", err)
	}
	if len(raw) > MaxReadBytes {
		n, _ := io.Copy(io.Discard, stdin)
		return nil, agentconfig.Config{}, badPayload("%d bytes is over the %d byte limit", int64(len(raw))+n, MaxReadBytes)
	}
	cfg, err := agentconfig.LoadConfig(home)
	if err != nil {
		agentconfig.Logf(home, "config: %v (capturing at tier 1)", err)
	}
	evts, err := Build(raw, cfg, now)
	return evts, cfg, err
}

package agentconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/privacy"
)

// Log size limits: hook.log rotates to hook.log.1 past logMaxBytes, so the two files
// together never grow past about twice that; one line is cut at logMaxLine.
const (
	logMaxBytes = 1 << 20
	logMaxLine  = 4 << 10
)

// Logf appends one timestamped line to <home>/hook.log. The hook has no other voice:
// stdout would reach Claude's context and stderr the user's screen. The line is redacted
// (callers should pass redacted text anyway), newlines are escaped so one call is one
// line, and failures are swallowed: logging must never be why the hook fails.
func Logf(home, format string, args ...any) {
	defer func() { _ = recover() }()
	msg := privacy.Redact(fmt.Sprintf(format, args...), nil)
	msg = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
	if len(msg) > logMaxLine {
		msg = msg[:logMaxLine] + "…"
	}
	line := time.Now().UTC().Format(time.RFC3339Nano) + " " + msg + "\n"

	if err := os.MkdirAll(home, 0o700); err != nil {
		return
	}
	path := filepath.Join(home, "hook.log")
	if fi, err := os.Stat(path); err == nil && fi.Size()+int64(len(line)) > logMaxBytes {
		// Concurrent hooks may race here; the loser renames a fresh file or fails, and
		// either way at most a few lines land in hook.log.1 instead of hook.log.
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	// One write of one line with O_APPEND: lines from parallel hooks do not interleave.
	_, _ = f.WriteString(line)
	_ = f.Close()
}

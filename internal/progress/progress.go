// Package progress draws the one-line progress bars of the command-line tools
// (agent-trace-hook import, agent-trace-deliver --progress) on a terminal's stderr. It is
// a few lines on purpose: the hook binary links it and must stay small and fast to start.
package progress

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Bar is one self-overwriting line, redrawn at most ten times a second. The zero value
// with W set is ready; Off turns it into a no-op (--no-progress).
type Bar struct {
	W     io.Writer
	Off   bool
	Label string                         // "importing", "delivering"
	Unit  func(done, total int64) string // how the counts read; "12 / 40" when nil

	last  time.Time
	drawn bool
}

const width = 30

// Update redraws the bar at done of total (a done past total reads as 100 %).
func (b *Bar) Update(done, total int64) {
	if b.Off || (time.Since(b.last) < 100*time.Millisecond && done < total) {
		return
	}
	b.last = time.Now()
	frac := 1.0
	if total > 0 && done < total {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	counts := fmt.Sprintf("%d / %d", done, total)
	if b.Unit != nil {
		counts = b.Unit(done, total)
	}
	fmt.Fprintf(b.W, "\r%s [%s%s] %3.0f%% %s", b.Label, strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, counts)
	b.drawn = true
}

// Done ends the bar's line, if it drew one.
func (b *Bar) Done() {
	if b.drawn {
		fmt.Fprintln(b.W)
		b.drawn = false
	}
}

// Bytes reads a count of bytes for people: "1.5 MiB".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

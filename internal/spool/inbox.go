package spool

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// FileName is the spool file's name inside the agent-trace home.
const FileName = "spool.db"

// InboxDir is the directory, inside the agent-trace home, of events captured while the
// spool was locked.
const InboxDir = "inbox"

// Path returns the spool file's path inside home.
func Path(home string) string { return filepath.Join(home, FileName) }

// WriteInbox writes events to a new file in <home>/inbox, for the deliverer to fold into
// the spool. The file appears atomically (temp file, fsync, rename) under a unique name
// that sorts by creation time, so folding keeps capture order.
func WriteInbox(home string, evts []event.Event) error {
	dir := filepath.Join(home, InboxDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write inbox: %w", err)
	}
	data, err := json.Marshal(evts)
	if err != nil {
		return fmt.Errorf("write inbox: encode: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("%020d-%d-%s.json", time.Now().UnixNano(), os.Getpid(), hex.EncodeToString(rnd[:]))
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("write inbox: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write inbox: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write inbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write inbox: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write inbox: %w", err)
	}
	// The rename is durable only once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// InboxFiles lists the complete inbox files in capture order.
func InboxFiles(home string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(home, InboxDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list inbox: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		out = append(out, filepath.Join(home, InboxDir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

// FoldInbox moves every inbox file's events into the spool, then deletes the files.
// A file that does not decode is dead-lettered as it is, so nothing vanishes silently.
// A crash between the commit and the deletion folds a file twice; its events keep their
// IDs, so the collector stores them once.
func (s *Spool) FoldInbox(home string) (int, error) {
	files, err := InboxFiles(home)
	if err != nil || len(files) == 0 {
		return 0, err
	}
	var raws [][]byte
	var bad []Item
	var done []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return 0, fmt.Errorf("fold inbox: %w", err)
		}
		var evts []json.RawMessage
		if err := json.Unmarshal(data, &evts); err != nil {
			bad = append(bad, Item{Raw: data})
		} else {
			for _, e := range evts {
				raws = append(raws, e)
			}
		}
		done = append(done, f)
	}
	if len(raws) > 0 {
		if _, err := s.AppendRaw(raws, nil, nil); err != nil {
			return 0, fmt.Errorf("fold inbox: %w", err)
		}
	}
	if len(bad) > 0 {
		if err := s.DeadLetter(bad, "unreadable inbox file"); err != nil {
			return 0, fmt.Errorf("fold inbox: %w", err)
		}
	}
	for _, f := range done {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return len(raws), fmt.Errorf("fold inbox: %w", err)
		}
	}
	return len(raws), nil
}

// CaptureResult says where Capture put the events.
type CaptureResult struct {
	Inbox bool // written to the inbox because the spool was locked
	Meta  Meta // the spool's meta after the append (zero when Inbox)
}

// Capture is the hook's whole write path: open the spool in home, append the events in
// one transaction and close. When the spool is locked it writes an inbox file instead;
// when the file turns out to be damaged mid-transaction it moves it aside and retries
// once on a fresh spool.
func Capture(home string, opts Options, evts []event.Event) (CaptureResult, error) {
	if len(evts) == 0 {
		return CaptureResult{}, nil
	}
	path := Path(home)
	for attempt := 0; ; attempt++ {
		s, err := Open(path, opts)
		if errors.Is(err, ErrLocked) {
			if ierr := WriteInbox(home, evts); ierr != nil {
				return CaptureResult{}, fmt.Errorf("capture: %w (spool: %v)", ierr, err)
			}
			return CaptureResult{Inbox: true}, nil
		}
		if err != nil {
			// Whatever keeps the spool from opening (permissions, a full disk), the
			// inbox is a second, independent chance to keep the event.
			if ierr := WriteInbox(home, evts); ierr != nil {
				return CaptureResult{}, fmt.Errorf("capture: %w; inbox: %v", err, ierr)
			}
			return CaptureResult{Inbox: true}, fmt.Errorf("capture: wrote inbox instead: %w", err)
		}
		m, err := s.Append(evts...)
		if err == nil {
			s.Close()
			return CaptureResult{Meta: m}, nil
		}
		if errors.Is(err, ErrCorrupt) && attempt == 0 {
			moved, qerr := s.moveAside()
			if qerr == nil {
				s.opts.Logf("spool %s is corrupt (%v); moved it to %s and started a fresh spool", path, err, moved)
				continue
			}
		} else {
			s.Close()
		}
		if ierr := WriteInbox(home, evts); ierr != nil {
			return CaptureResult{}, fmt.Errorf("capture: %w; inbox: %v", err, ierr)
		}
		return CaptureResult{Inbox: true}, fmt.Errorf("capture: wrote inbox instead: %w", err)
	}
}

// CorruptFiles lists spool files that were moved aside as corrupt.
func CorruptFiles(home string) []string {
	matches, _ := filepath.Glob(Path(home) + ".corrupt-*")
	sort.Strings(matches)
	return matches
}

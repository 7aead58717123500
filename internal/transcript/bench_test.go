package transcript_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// MustGenerateTranscript writes a transcript of at least size bytes under dir, made by
// repeating a real recorded session (large system-prompt attachments, streamed responses,
// tool calls and results) with its message, request, tool and prompt IDs made unique per
// repetition, so nothing collapses in deduplication. It returns the file's path and the
// number of API responses in it.
func MustGenerateTranscript(tb testing.TB, dir string, size int64) (string, int) {
	tb.Helper()
	src, err := filepath.Glob("testdata/commit/transcripts/*/*.jsonl")
	if err != nil || len(src) != 1 {
		tb.Fatalf("fixture: %v %v", src, err)
	}
	tmpl, err := os.ReadFile(src[0])
	if err != nil {
		tb.Fatal(err)
	}
	const responsesPerCopy = 5
	proj := filepath.Join(dir, "-home-dev-src-demo")
	if err := os.MkdirAll(proj, 0o700); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(proj, "02ffe567-4617-41ff-b977-3528b6d21881.jsonl")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var written int64
	copies := 0
	for ; written < size; copies++ {
		tag := fmt.Sprintf("%06d", copies)
		b := bytes.ReplaceAll(tmpl, []byte(`"msg_`), []byte(`"msg_`+tag))
		b = bytes.ReplaceAll(b, []byte(`"req_`), []byte(`"req_`+tag))
		b = bytes.ReplaceAll(b, []byte(`toolu_`), []byte(`toolu_`+tag))
		b = bytes.ReplaceAll(b, []byte(`6054bf7f-251e-4fe0-9023-`), []byte(`6054bf7f-251e-4fe0-`+tag[2:]+`-`))
		n, err := w.Write(b)
		if err != nil {
			tb.Fatal(err)
		}
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, copies * responsesPerCopy
}

func TestGeneratedTranscript(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a few MB")
	}
	dir := t.TempDir()
	path, responses := MustGenerateTranscript(t, dir, 2<<20)
	evs := readAll(t, path, transcript.Options{})
	if got := len(usages(evs)); got != responses {
		t.Errorf("generated transcript has %d responses, want %d", got, responses)
	}
}

// BenchmarkImport measures backfilling a ~100 MB transcript, with hook events rebuilt
// (buildLikeHook stands in for capture.Build, whose redaction cost is measured there).
//
//	go test ./internal/transcript -run '^$' -bench Import -benchtime 3x
func BenchmarkImport(b *testing.B) {
	dir := b.TempDir()
	path, _ := MustGenerateTranscript(b, dir, 100<<20)
	info, _ := os.Stat(path)
	b.SetBytes(info.Size())
	for _, bc := range []struct {
		name  string
		build bool
	}{{"usage-only", false}, {"with-hooks", true}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := transcript.ImportOptions{Tier: event.TierFull}
			if bc.build {
				opts.Build = buildLikeHook
			}
			b.SetBytes(info.Size())
			for b.Loop() {
				n := 0
				err := transcript.Import(dir, opts, func(evs []event.Event) error { n += len(evs); return nil }, nil)
				if err != nil || n == 0 {
					b.Fatalf("Import: %v (%d events)", err, n)
				}
			}
		})
	}
}

// BenchmarkTailAppend measures the deliverer's steady state: one new response appended
// to a large transcript, then tailed from the saved offset.
func BenchmarkTailAppend(b *testing.B) {
	dir := b.TempDir()
	path, _ := MustGenerateTranscript(b, dir, 20<<20)
	_, st, err := transcript.Tail(path, transcript.State{}, transcript.Options{})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		line := assistantLine(fmt.Sprintf("msg_bench_%d", i), "req_x", 5, `{"type":"text","text":"ok"}`) + "\n"
		appendFile(b, path, []byte(line))
		if _, st, err = transcript.Tail(path, st, transcript.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestImportLargeTranscriptBatchesAndProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10 MB")
	}
	dir := t.TempDir()
	path, responses := MustGenerateTranscript(t, dir, 10<<20)
	info, _ := os.Stat(path)
	var reports []int64
	usage := 0
	err := transcript.Import(dir, transcript.ImportOptions{Build: buildLikeHook},
		func(evs []event.Event) error {
			if len(evs) > 500 {
				t.Errorf("batch of %d events, want at most 500", len(evs))
			}
			usage += len(usages(evs))
			return nil
		},
		func(done, total int64) {
			if total != info.Size() {
				t.Errorf("total %d, want %d", total, info.Size())
			}
			reports = append(reports, done)
		})
	if err != nil {
		t.Fatal(err)
	}
	if usage != responses {
		t.Errorf("%d usage events, want %d", usage, responses)
	}
	if len(reports) < 4 || reports[len(reports)-1] != info.Size() {
		t.Errorf("progress reports %v: want several, ending at %d", reports, info.Size())
	}
	for i := 1; i < len(reports); i++ {
		if reports[i] < reports[i-1] {
			t.Errorf("progress went back: %v", reports)
		}
	}
}

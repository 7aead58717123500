package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"reflect"
	"testing"
	"time"
)

var testEntries = []entry{
	{"agent-trace_1.0.0_linux_amd64/LICENSE", 0o644, []byte("MIT")},
	{"agent-trace_1.0.0_linux_amd64/agent-trace-hook", 0o755, []byte("\x7fELF hook")},
}

// The same entries give the same bytes, whenever and wherever they are packed: that is
// what makes the published checksums reproducible.
func TestArchivesAreReproducible(t *testing.T) {
	epoch := time.Unix(1_700_000_000, 0).UTC()
	for name, write := range map[string]func(io.Writer, []entry, time.Time) error{"tar.gz": writeTarGz, "zip": writeZip} {
		var a, b bytes.Buffer
		if err := write(&a, testEntries, epoch); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // a clock that moved must not show
		if err := write(&b, testEntries, epoch); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: two packs of the same entries differ", name)
		}
	}
}

func TestTarGzEntries(t *testing.T) {
	epoch := time.Unix(1_700_000_000, 0).UTC()
	var buf bytes.Buffer
	if err := writeTarGz(&buf, testEntries, epoch); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header name %q, time %v: want both empty", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var got []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: time %v uid %d gid %d, want %v 0 0", h.Name, h.ModTime, h.Uid, h.Gid, epoch)
		}
		data, _ := io.ReadAll(tr)
		got = append(got, entry{h.Name, h.Mode, data})
	}
	if !reflect.DeepEqual(got, testEntries) {
		t.Errorf("entries = %+v, want %+v", got, testEntries)
	}
}

func TestZipEntries(t *testing.T) {
	var buf bytes.Buffer
	if err := writeZip(&buf, testEntries, time.Unix(1_700_000_000, 0).UTC()); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var got []entry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		got = append(got, entry{f.Name, int64(f.Mode().Perm()), data})
	}
	if !reflect.DeepEqual(got, testEntries) {
		t.Errorf("entries = %+v, want %+v", got, testEntries)
	}
}

func TestParseTargets(t *testing.T) {
	got, err := parseTargets(defaultTargets)
	if err != nil || len(got) != 6 || got[4] != (target{"windows", "amd64"}) {
		t.Fatalf("parseTargets(default) = %v, %v", got, err)
	}
	for _, bad := range []string{"linux", "linux/", "/amd64", "linux/amd64,"} {
		if _, err := parseTargets(bad); err == nil {
			t.Errorf("parseTargets(%q): no error", bad)
		}
	}
}

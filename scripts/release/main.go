// Command release builds agent-trace's release archives: for each target, the three
// binaries (hook, deliverer, server) built with -trimpath and the version stamped, packed
// with README.md and LICENSE into agent-trace_<version>_<os>_<arch>.tar.gz (.zip for
// Windows), and a checksums.txt of SHA-256 sums in sha256sum's format.
//
// The archives are reproducible: the same source and version give the same bytes, because
// the build drops paths and build ids, and every archive entry gets the same owner, mode
// and time (the commit's time, or SOURCE_DATE_EPOCH).
//
//	go run ./scripts/release -version v1.2.3 -out dist
//	go run ./scripts/release -version v1.2.3 -targets linux/amd64 -bin-only -out /out
//
// A small program rather than GoReleaser: it is the one loop this project needs, it
// needs no tool beyond Go, and the Dockerfile runs the same step for its image.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// defaultTargets are the platforms Claude Code runs on.
const defaultTargets = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64"

// commands are the binaries each archive holds.
var commands = []string{"agent-trace-hook", "agent-trace-deliver", "agent-trace-server"}

// docs are the files packed beside the binaries.
var docs = []string{"README.md", "LICENSE"}

type options struct {
	version string
	out     string
	targets []target
	binOnly bool
	epoch   time.Time
	stderr  io.Writer
}

type target struct{ os, arch string }

func (t target) String() string { return t.os + "/" + t.arch }

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "version to stamp and name the archives with (required)")
	out := fs.String("out", "dist", "directory for the archives and checksums.txt")
	targets := fs.String("targets", defaultTargets, "comma-separated GOOS/GOARCH pairs")
	binOnly := fs.Bool("bin-only", false, "build the binaries into -out/<os>_<arch>/ and pack nothing (for the Docker image)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" {
		return errors.New("-version is required (make release VERSION=v1.2.3)")
	}
	ts, err := parseTargets(*targets)
	if err != nil {
		return err
	}
	epoch, err := sourceDate()
	if err != nil {
		return err
	}
	return release(options{version: *version, out: *out, targets: ts, binOnly: *binOnly, epoch: epoch, stderr: stderr})
}

func parseTargets(s string) ([]target, error) {
	var ts []target
	for _, f := range strings.Split(s, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(f), "/")
		if !ok || goos == "" || goarch == "" {
			return nil, fmt.Errorf("target %q: want GOOS/GOARCH", f)
		}
		ts = append(ts, target{goos, goarch})
	}
	return ts, nil
}

// sourceDate is the time every archive entry carries: SOURCE_DATE_EPOCH when set (the
// reproducible-builds convention), else the time of the commit being built.
func sourceDate() (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	outb, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
	if n, perr := strconv.ParseInt(strings.TrimSpace(string(outb)), 10, 64); err == nil && perr == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Unix(0, 0).UTC(), nil // not a git checkout: still the same bytes every time
}

func release(o options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", o.out, err)
	}
	var archives []string
	for _, t := range o.targets {
		dir := filepath.Join(o.out, t.os+"_"+t.arch)
		if err := build(o, t, dir); err != nil {
			return err
		}
		if o.binOnly {
			continue
		}
		name, err := pack(o, t, dir)
		if err != nil {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		archives = append(archives, name)
		fmt.Fprintf(o.stderr, "release: %s\n", filepath.Join(o.out, name))
	}
	if o.binOnly {
		return nil
	}
	return writeChecksums(o.out, archives)
}

// build compiles the three binaries for t into dir.
func build(o options, t target, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version=" + o.version, "-o", dir + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, "./cmd/"+c)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS="+t.os, "GOARCH="+t.arch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = o.stderr, o.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", t, err)
	}
	return nil
}

// entry is one file of an archive.
type entry struct {
	name string
	mode int64
	data []byte
}

// pack writes the archive for t from the binaries in dir and the docs, and returns its
// file name.
func pack(o options, t target, dir string) (string, error) {
	base := fmt.Sprintf("agent-trace_%s_%s_%s", strings.TrimPrefix(o.version, "v"), t.os, t.arch)
	var entries []entry
	for _, c := range commands {
		name := c
		if t.os == "windows" {
			name += ".exe"
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("pack %s: %w", t, err)
		}
		entries = append(entries, entry{base + "/" + name, 0o755, data})
	}
	for _, d := range docs {
		data, err := os.ReadFile(d)
		if err != nil {
			return "", fmt.Errorf("pack %s: %w", t, err)
		}
		entries = append(entries, entry{base + "/" + d, 0o644, data})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var buf bytes.Buffer
	name, write := base+".tar.gz", writeTarGz
	if t.os == "windows" {
		name, write = base+".zip", writeZip
	}
	if err := write(&buf, entries, o.epoch); err != nil {
		return "", fmt.Errorf("pack %s: %w", t, err)
	}
	if err := os.WriteFile(filepath.Join(o.out, name), buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return name, nil
}

func writeTarGz(w io.Writer, entries []entry, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	// The gzip header's own name and time stay empty: they would differ between runs.
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), ModTime: mtime,
			Typeflag: tar.TypeReg, Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(os.FileMode(e.mode))
		f, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := f.Write(e.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// writeChecksums writes checksums.txt: "<sha256 hex>  <file name>" a line, as sha256sum
// prints and `sha256sum -c` reads.
func writeChecksums(dir string, names []string) error {
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	return os.WriteFile(filepath.Join(dir, "checksums.txt"), []byte(b.String()), 0o644)
}

// Command testreport reads `go test -json` on stdin and prints what a person needs from a
// long CI run: go test's own per-package ok/FAIL/skip lines, the full output of every test
// that failed, and one closing line "N passed, N failed, N skipped". It exits 1 when any
// test or package failed (including a build failure) and 0 otherwise.
//
//	go test -json ./... | go run ./scripts/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type testEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	failed, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

type key struct{ pkg, test string }

// report consumes the event stream and reports whether anything failed.
func report(r io.Reader, w io.Writer) (bool, error) {
	var passed, failedTests, skipped int
	output := map[key][]string{} // buffered output per test, printed only when it fails
	var failures []key
	anyFailed := false

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev testEvent
		if err := json.Unmarshal(line, &ev); err != nil || ev.Action == "" {
			// Not an event: build errors and the like arrive as plain text. Pass them on.
			fmt.Fprintln(w, string(line))
			if strings.HasPrefix(string(line), "FAIL") {
				anyFailed = true
			}
			continue
		}
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "build-output":
			fmt.Fprint(w, ev.Output)
		case "build-fail":
			anyFailed = true
		case "output":
			if ev.Test == "" {
				// Package-level lines: go test's own "ok"/"FAIL"/"?" summary and build output.
				out := ev.Output
				if strings.HasPrefix(out, "=== ") || strings.HasPrefix(out, "PASS\n") || strings.HasPrefix(out, "FAIL\n") {
					continue
				}
				if strings.HasPrefix(out, "FAIL") {
					anyFailed = true
				}
				fmt.Fprint(w, out)
				continue
			}
			output[k] = append(output[k], ev.Output)
		case "pass":
			if ev.Test != "" {
				passed++
				delete(output, k)
			}
		case "skip":
			if ev.Test != "" {
				skipped++
				delete(output, k)
			}
		case "fail":
			if ev.Test == "" {
				anyFailed = true
				continue
			}
			failedTests++
			anyFailed = true
			failures = append(failures, k)
		}
	}
	if err := sc.Err(); err != nil {
		return true, fmt.Errorf("read go test -json: %w", err)
	}

	// Tests that never finished (a panic, a timeout) left their output behind: that output
	// says why the package failed, so it is shown too.
	seen := map[key]bool{}
	for _, k := range failures {
		seen[k] = true
	}
	for k := range output {
		if !seen[k] {
			failures = append(failures, k)
			anyFailed = true
		}
	}
	if len(failures) > 0 {
		sort.Slice(failures, func(i, j int) bool {
			if failures[i].pkg != failures[j].pkg {
				return failures[i].pkg < failures[j].pkg
			}
			return failures[i].test < failures[j].test
		})
		fmt.Fprintln(w, "\nFailed tests:")
		for _, k := range failures {
			fmt.Fprintf(w, "\n--- FAIL: %s (%s)\n", k.test, k.pkg)
			for _, o := range output[k] {
				fmt.Fprint(w, o)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", passed, failedTests, skipped)
	return anyFailed, nil
}

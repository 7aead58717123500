package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportRealGoTest runs the real `go test -json` on a throwaway module with a passing,
// a failing and a skipped test, and checks what the report says about it.
func TestReportRealGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a temporary module")
	}
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("m_test.go", `package m

import "testing"

func TestPass(t *testing.T) { t.Log("quiet when passing") }
func TestFail(t *testing.T) { t.Log("explains the failure"); t.Fail() }
func TestSkip(t *testing.T) { t.Skip("not here") }
func TestSub(t *testing.T) {
	t.Run("a", func(t *testing.T) {})
	t.Run("b", func(t *testing.T) {})
}
`)
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	raw, _ := cmd.Output() // go test exits 1 here; the events are what matter

	var out strings.Builder
	failed, err := report(strings.NewReader(string(raw)), &out)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if !failed {
		t.Errorf("report says nothing failed:\n%s", out.String())
	}
	got := out.String()
	for _, want := range []string{
		"FAIL\texample.com/m",
		"--- FAIL: TestFail (example.com/m)",
		"explains the failure",
		"4 passed, 1 failed, 1 skipped\n", // TestPass, TestSub, TestSub/a, TestSub/b
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "quiet when passing") {
		t.Errorf("report prints a passing test's log:\n%s", got)
	}
}

func TestReportBuildFailure(t *testing.T) {
	// What go test -json prints when a package does not compile (Go 1.24+ reports build
	// output as build-output events and the package as failed).
	in := `{"ImportPath":"example.com/m","Action":"build-output","Output":"m.go:3:1: syntax error\n"}
{"ImportPath":"example.com/m","Action":"build-fail"}
{"Action":"start","Package":"example.com/m"}
{"Action":"output","Package":"example.com/m","Output":"FAIL\texample.com/m [build failed]\n"}
{"Action":"fail","Package":"example.com/m","Elapsed":0}
`
	var out strings.Builder
	failed, err := report(strings.NewReader(in), &out)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if !failed {
		t.Errorf("a build failure was not reported as a failure:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "m.go:3:1: syntax error") || !strings.Contains(out.String(), "[build failed]") || !strings.Contains(out.String(), "0 passed, 0 failed, 0 skipped") {
		t.Errorf("unexpected report:\n%s", out.String())
	}
}

func TestReportUnfinishedTest(t *testing.T) {
	// A test that panicked: its output arrives, then the package fails, and the test itself
	// never gets a pass or fail action.
	in := `{"Action":"run","Package":"example.com/m","Test":"TestBoom"}
{"Action":"output","Package":"example.com/m","Test":"TestBoom","Output":"panic: boom\n"}
{"Action":"output","Package":"example.com/m","Output":"FAIL\texample.com/m\t0.01s\n"}
{"Action":"fail","Package":"example.com/m","Elapsed":0.01}
`
	var out strings.Builder
	failed, err := report(strings.NewReader(in), &out)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if !failed || !strings.Contains(out.String(), "panic: boom") {
		t.Errorf("failed=%v, report:\n%s", failed, out.String())
	}
}

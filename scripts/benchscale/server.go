package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is an agent-trace-server process on a SQLite database of its own.
type server struct {
	cmd                       *exec.Cmd
	db                        string
	collector, api, dashboard string
}

// buildServer builds ./cmd/agent-trace-server into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "agent-trace-server")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/agent-trace-server").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// startServer runs bin on dir/data.db with free loopback ports and waits until ready.
func startServer(ctx context.Context, bin, dir string, flags ...string) (*server, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	s := &server{db: filepath.Join(dir, "data.db"),
		collector: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), api: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		dashboard: fmt.Sprintf("http://127.0.0.1:%d", ports[2])}
	args := append([]string{"--db", s.db, "--otlp-port", "0", "--collector-port", strconv.Itoa(ports[0]),
		"--api-port", strconv.Itoa(ports[1]), "--dashboard-port", strconv.Itoa(ports[2])}, flags...)
	s.cmd = exec.CommandContext(ctx, bin, args...)
	s.cmd.Env = append(os.Environ(), "HOME="+dir)
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.api + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.cmd.Process.Kill()
	return nil, fmt.Errorf("server not ready in 60 s (log: %s)", log.Name())
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// stop asks the server to exit (SIGTERM) and waits.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		return fmt.Errorf("server did not exit within 60 s of SIGTERM")
	}
}

// cpu is the process's user and system CPU time so far (Linux /proc).
func cpu(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after the last ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// memory is the process's resident set now and at its peak (VmRSS, VmHWM), in bytes.
func memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, nil
}

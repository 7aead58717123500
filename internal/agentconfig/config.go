package agentconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/atomicfile"
	"github.com/agent-trace/agent-trace/internal/claudesettings"
)

// Defaults for a missing config file or missing fields.
const (
	DefaultCollectorURL  = "http://127.0.0.1:8317"
	DefaultTier          = event.TierDetails
	DefaultSpoolMaxBytes = 1 << 30
	// DefaultOTLPPort is agent-trace-server's OTLP port (gRPC and OTLP/HTTP), the
	// original agent-trace's 4717.
	DefaultOTLPPort = "4717"
)

// Config is the hook's own configuration, <home>/config.json, written by `init`.
type Config struct {
	CollectorURL  string `json:"collector_url"`
	Tier          int    `json:"privacy_tier"`
	Token         string `json:"token,omitempty"`
	User          string `json:"user,omitempty"`
	Host          string `json:"host,omitempty"`
	SpoolMaxBytes int64  `json:"spool_max_bytes,omitempty"`
	// OTel records what `init --otel` wrote into each Claude Code settings file (keyed
	// by its path), so init can update it and uninstall remove exactly it.
	OTel map[string]*OTelSetup `json:"otel,omitempty"`
	// MCP records the MCP server entry `init --mcp` wrote into each Claude Code global
	// config (keyed by its path), so uninstall removes exactly it.
	MCP map[string]*MCPSetup `json:"mcp,omitempty"`
}

// MCPSetup is agent-trace's MCP server as init registered it in one global config.
type MCPSetup struct {
	Name  string          `json:"name"`  // the mcpServers key
	Entry json.RawMessage `json:"entry"` // the entry as written
}

// OTelSetup is Claude Code's telemetry as init set it up in one settings file.
type OTelSetup struct {
	// Endpoint is the --otlp-endpoint given; empty means derived from the collector URL.
	Endpoint string `json:"endpoint,omitempty"`
	Traces   bool   `json:"traces,omitempty"`
	// Env are the variables init wrote (and the user's values it replaced).
	Env map[string]claudesettings.OwnedEnv `json:"env,omitempty"`
}

// Home is the hook's state directory: $AGENT_TRACE_HOME, else ~/.agent-trace.
func Home() string {
	if h := os.Getenv("AGENT_TRACE_HOME"); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".agent-trace")
	}
	return ".agent-trace"
}

// DefaultConfig is the configuration of a hook nobody has configured.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		CollectorURL:  DefaultCollectorURL,
		Tier:          DefaultTier,
		User:          osUser(),
		Host:          host,
		SpoolMaxBytes: DefaultSpoolMaxBytes,
	}
}

// LoadConfig reads <home>/config.json over the defaults, then applies the environment
// overrides AGENT_TRACE_COLLECTOR_URL, AGENT_TRACE_TOKEN and AGENT_TRACE_PRIVACY_TIER. A
// missing file is no error. On error the returned Config is still usable but its tier is
// 1: a hook that cannot read the user's choice keeps the least.
func LoadConfig(home string) (Config, error) {
	c := DefaultConfig()
	err := loadFile(filepath.Join(home, "config.json"), &c)
	if v := os.Getenv("AGENT_TRACE_COLLECTOR_URL"); v != "" {
		c.CollectorURL = v
	}
	c.CollectorURL = NormalizeCollectorURL(c.CollectorURL)
	if v := os.Getenv("AGENT_TRACE_TOKEN"); v != "" {
		c.Token = v
	}
	if v := os.Getenv("AGENT_TRACE_PRIVACY_TIER"); v != "" {
		t, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr != nil || t < event.TierMetadata || t > event.TierFull {
			err = errors.Join(err, fmt.Errorf("AGENT_TRACE_PRIVACY_TIER=%q: must be 1, 2 or 3", v))
		} else if err == nil {
			c.Tier = t
		}
	}
	if err != nil {
		c.Tier = event.TierMetadata
		return c, err
	}
	return c, nil
}

func loadFile(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	// Decode over a copy so a half-decoded file leaves no partial values behind.
	next := *c
	next.Tier = 0
	if err := json.Unmarshal(data, &next); err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	switch {
	case next.Tier == 0:
		next.Tier = c.Tier
	case next.Tier < event.TierMetadata || next.Tier > event.TierFull:
		return fmt.Errorf("config %s: privacy_tier %d: must be 1, 2 or 3", path, next.Tier)
	}
	if next.CollectorURL == "" {
		next.CollectorURL = c.CollectorURL
	}
	if next.User == "" {
		next.User = c.User
	}
	if next.Host == "" {
		next.Host = c.Host
	}
	if next.SpoolMaxBytes <= 0 {
		next.SpoolMaxBytes = c.SpoolMaxBytes
	}
	*c = next
	return nil
}

// SaveConfig writes <home>/config.json atomically with mode 0600 (it may hold a token),
// creating home if needed.
func SaveConfig(home string, c Config) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(home, "config.json"), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// osUser is the login name from the environment: USER on Unix, USERNAME on Windows.
// (os/user would read /etc/passwd on every hook run.)
func osUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return os.Getenv("USERNAME")
}

// hooksPath is where the collector takes hook events; the deliverer appends it.
const hooksPath = "/v1/hooks"

// NormalizeCollectorURL reduces a collector URL to the base the deliverer appends its
// paths to. The original agent-trace documented the URL with the hook endpoint's path
// (http://127.0.0.1:8317/v1/hooks); that form, with or without a trailing slash, means
// the same collector, so configs written with it heal when they are read.
func NormalizeCollectorURL(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if strings.HasSuffix(strings.ToLower(s), hooksPath) {
		s = strings.TrimRight(s[:len(s)-len(hooksPath)], "/")
	}
	return s
}

// OTLPEndpoint is where Claude Code sends its telemetry for a collector URL: the same
// scheme and host on the OTLP port, no path (the exporter appends /v1/logs and so on).
func OTLPEndpoint(collectorURL string) (string, error) {
	u, err := url.Parse(NormalizeCollectorURL(collectorURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", fmt.Errorf("derive the OTLP endpoint from %q: want an http(s) URL", collectorURL)
	}
	return (&url.URL{Scheme: u.Scheme, Host: net.JoinHostPort(u.Hostname(), DefaultOTLPPort)}).String(), nil
}

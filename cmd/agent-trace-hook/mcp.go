package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/claudesettings"
)

// mcpServerName is the name init registers agent-trace's MCP server under: Claude Code
// names its tools mcp__agent-trace__<tool>. It is the name the server reports.
const mcpServerName = "agent-trace"

// defaultAPIPort is agent-trace-server's API port, where /mcp is served.
const defaultAPIPort = "8318"

// mcpURL is the MCP endpoint init registers: --mcp-url, else the collector's host on the
// API port when the collector is on its default port, else the collector's own origin
// (a server behind a proxy that routes /mcp).
func mcpURL(flag, collectorURL string) string {
	if flag != "" {
		return flag
	}
	u, err := url.Parse(collectorURL)
	if err != nil {
		return "http://127.0.0.1:" + defaultAPIPort + "/mcp"
	}
	if u.Port() == "8317" {
		u.Host = net.JoinHostPort(u.Hostname(), defaultAPIPort)
	}
	return u.Scheme + "://" + u.Host + "/mcp"
}

// initMCP registers (--mcp) or removes (--mcp=false) agent-trace's MCP server among
// Claude Code's user-scope servers, as the HTTP transport, so the machine needs no
// server binary, and records the entry written so uninstall removes exactly it.
func initMCP(cmd *cobra.Command, stdout io.Writer, home string, cfg *agentconfig.Config, o initOptions) error {
	if !cmd.Flags().Changed("mcp") {
		return nil
	}
	path := claudesettings.GlobalConfigPath()
	if !o.mcp {
		return removeMCP(stdout, home, cfg, path)
	}
	entry := claudesettings.MCPServer{Type: "http", URL: mcpURL(o.mcpURL, cfg.CollectorURL)}
	token := o.mcpToken
	if token == "" {
		token = cfg.Token
	}
	if token != "" {
		entry.Headers = map[string]string{"Authorization": "Bearer " + token}
	}
	changed, previous, err := claudesettings.SetMCPServer(path, mcpServerName, entry, token != "")
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	written, _ := json.Marshal(entry)
	if cfg.MCP == nil {
		cfg.MCP = map[string]*agentconfig.MCPSetup{}
	}
	recorded := cfg.MCP[path]
	cfg.MCP[path] = &agentconfig.MCPSetup{Name: mcpServerName, Entry: written}
	if err := agentconfig.SaveConfig(home, *cfg); err != nil {
		return fmt.Errorf("init: record the MCP server written to %s: %w", path, err)
	}
	state := "registered"
	switch {
	case !changed:
		state = "already registered"
	case previous != nil && recorded == nil:
		state = "registered (replacing an " + mcpServerName + " entry init had not written)"
	}
	fmt.Fprintf(stdout, "mcp: %s %s as Claude Code's user-scope MCP server %q in %s; its tools are mcp__%s__*\n",
		state, entry.URL, mcpServerName, path, mcpServerName)
	if token != "" && o.mcpToken == "" {
		fmt.Fprintln(stdout, "mcp: sends the collector token; /mcp needs a read or admin token (an ingest token is refused): pass --mcp-token if so")
	}
	return nil
}

// removeMCP removes the MCP server entry recorded for the global config at path, unless
// the user changed it since, and forgets the record.
func removeMCP(stdout io.Writer, home string, cfg *agentconfig.Config, path string) error {
	setup := cfg.MCP[path]
	if setup == nil {
		return nil
	}
	removed, kept, err := claudesettings.RemoveMCPServer(path, setup.Name, setup.Entry)
	if err != nil {
		return err
	}
	delete(cfg.MCP, path)
	if err := agentconfig.SaveConfig(home, *cfg); err != nil {
		return err
	}
	switch {
	case removed:
		fmt.Fprintf(stdout, "mcp: removed the MCP server %q init registered in %s\n", setup.Name, path)
	case kept:
		fmt.Fprintf(stdout, "mcp: kept the MCP server %q in %s: you changed it since init wrote it\n", setup.Name, path)
	}
	return nil
}

// statusMCP reports whether Claude Code's global config registers agent-trace's MCP
// server, and whether it is still the entry init wrote.
func statusMCP(w *statusWriter, cfg agentconfig.Config) {
	path := claudesettings.GlobalConfigPath()
	have, err := claudesettings.MCPServerEntry(path, mcpServerName)
	if err != nil {
		w.line("mcp", "cannot read %s: %v", path, err)
		return
	}
	if have == nil {
		w.line("mcp", "not registered in %s (agent-trace-hook init --mcp)", path)
		return
	}
	var e claudesettings.MCPServer
	_ = json.Unmarshal(have, &e)
	where := e.URL
	if where == "" {
		where = "a " + e.Type + " server"
	}
	auth := ""
	if e.Headers["Authorization"] != "" {
		auth = ", with a token"
	}
	note := ""
	if setup := cfg.MCP[path]; setup == nil || !sameEntry(have, setup.Entry) {
		note = " (not as init wrote it: uninstall leaves it)"
	}
	w.line("mcp", "%q registered in %s: %s%s%s", mcpServerName, path, where, auth, note)
}

func sameEntry(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

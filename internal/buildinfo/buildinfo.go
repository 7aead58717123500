// Package buildinfo names the version the three binaries print, so `agent-trace-hook
// version`, `agent-trace-deliver --version` and `agent-trace-server version` agree.
package buildinfo

import "runtime/debug"

// Version returns stamped when the build set it (-ldflags "-X main.version=…"), else the
// module version or VCS revision Go recorded in the binary, else "devel".
func Version(stamped string) string {
	if stamped != "" {
		return stamped
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v == "(devel)" {
		v = "devel"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			if v == "" || v == "(devel)" {
				v = "devel"
			}
			v += "+" + s.Value[:12]
		}
	}
	if v == "" {
		return "devel"
	}
	return v + " (" + bi.GoVersion + ")"
}

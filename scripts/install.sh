#!/bin/sh
# Install agent-trace's hook and deliverer (and, if asked, the server) from a release
# archive, without Go:
#
#   curl -fsSL https://raw.githubusercontent.com/agent-trace/agent-trace/main/scripts/install.sh | sh -s -- --init
#
# It picks the archive for this OS and CPU from the release's checksums.txt, verifies its
# SHA-256, and puts agent-trace-hook and agent-trace-deliver side by side in
# ~/.local/bin (or PREFIX/bin). --init then runs `agent-trace-hook init` with any
# arguments after `--`. Run with --help for the options.
set -eu

REPO_URL="https://github.com/agent-trace/agent-trace"
version="${AGENT_TRACE_VERSION:-latest}"
base_url="${AGENT_TRACE_BASE_URL:-}"
prefix="${AGENT_TRACE_PREFIX:-${HOME}/.local}"
with_server=0
run_init=0

usage() {
	cat <<EOF
usage: install.sh [options] [-- init arguments]

  --version V     release to install, e.g. v1.2.3 (default: latest; env AGENT_TRACE_VERSION)
  --prefix DIR    install into DIR/bin (default: ~/.local; env AGENT_TRACE_PREFIX)
  --base-url URL  where the release's archives and checksums.txt are
                  (default: $REPO_URL/releases/download/V; env AGENT_TRACE_BASE_URL)
  --server        install agent-trace-server too
  --init          run 'agent-trace-hook init' afterwards, with the arguments after --
  -h, --help      this text

example: install.sh --init -- --collector-url https://agent-trace.example.com --token T
EOF
}

die() {
	echo "install.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
	--version=*) version="${1#*=}"; shift ;;
	--prefix) [ $# -ge 2 ] || die "--prefix needs a value"; prefix="$2"; shift 2 ;;
	--prefix=*) prefix="${1#*=}"; shift ;;
	--base-url) [ $# -ge 2 ] || die "--base-url needs a value"; base_url="$2"; shift 2 ;;
	--base-url=*) base_url="${1#*=}"; shift ;;
	--server) with_server=1; shift ;;
	--init) run_init=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
done

detect_os() {
	case "$(uname -s)" in
	Linux) echo linux ;;
	Darwin) echo darwin ;;
	MINGW* | MSYS* | CYGWIN*) echo windows ;;
	*) die "unsupported OS: $(uname -s) (archives exist for Linux, macOS and Windows)" ;;
	esac
}

detect_arch() {
	case "$(uname -m)" in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) die "unsupported CPU: $(uname -m) (archives exist for amd64 and arm64)" ;;
	esac
}

# fetch URL FILE: download with curl or wget, failing on HTTP errors.
fetch() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1" || die "download failed: $1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" || die "download failed: $1"
	else
		die "need curl or wget to download"
	fi
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	else
		die "need sha256sum or shasum to verify the download"
	fi
}

os="$(detect_os)"
arch="$(detect_arch)"
if [ -z "$base_url" ]; then
	if [ "$version" = latest ]; then
		base_url="$REPO_URL/releases/latest/download"
	else
		base_url="$REPO_URL/releases/download/$version"
	fi
fi
base_url="${base_url%/}"

tmp="$(mktemp -d 2>/dev/null || mktemp -d -t agent-trace)"
trap 'rm -rf "$tmp"' EXIT INT TERM

fetch "$base_url/checksums.txt" "$tmp/checksums.txt"
if [ "$os" = windows ]; then ext=zip; else ext=tar.gz; fi
if [ "$version" = latest ]; then
	pattern="^[0-9a-f]\{64\}  agent-trace_[^ ]*_${os}_${arch}\.${ext}\$"
else
	pattern="^[0-9a-f]\{64\}  agent-trace_${version#v}_${os}_${arch}\.${ext}\$"
fi
line="$(grep "$pattern" "$tmp/checksums.txt" | head -n 1 || true)"
[ -n "$line" ] || die "no ${os}/${arch} archive for version $version in $base_url/checksums.txt"
want="${line%% *}"
archive="${line##* }"

echo "Downloading $archive"
fetch "$base_url/$archive" "$tmp/$archive"
got="$(sha256 "$tmp/$archive")"
[ "$got" = "$want" ] || die "checksum mismatch for $archive: got $got, want $want (download corrupted or tampered with)"

mkdir "$tmp/x"
case "$ext" in
zip) command -v unzip >/dev/null 2>&1 || die "need unzip"; unzip -q "$tmp/$archive" -d "$tmp/x" ;;
*) tar -xzf "$tmp/$archive" -C "$tmp/x" ;;
esac
src="$tmp/x/${archive%.$ext}"
[ -d "$src" ] || die "unexpected archive layout in $archive"

bindir="$prefix/bin"
mkdir -p "$bindir"
exe=""
[ "$os" = windows ] && exe=".exe"
names="agent-trace-hook agent-trace-deliver"
[ "$with_server" = 1 ] && names="$names agent-trace-server"
for n in $names; do
	# Copy then rename: a hook Claude Code is running right now keeps its old file.
	cp "$src/$n$exe" "$bindir/.$n$exe.new"
	chmod 0755 "$bindir/.$n$exe.new"
	mv -f "$bindir/.$n$exe.new" "$bindir/$n$exe"
	echo "Installed $bindir/$n$exe"
done
"$bindir/agent-trace-hook$exe" version

case ":${PATH}:" in
*":$bindir:"*) ;;
*) echo "Note: $bindir is not on your PATH; add it, or run $bindir/agent-trace-hook by its full path." ;;
esac

if [ "$run_init" = 1 ]; then
	"$bindir/agent-trace-hook$exe" init "$@"
else
	echo "Next: $bindir/agent-trace-hook$exe init   (wires Claude Code's hooks; --help for options)"
fi

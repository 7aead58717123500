# Shared by scripts/start-stack.sh, stop-stack.sh and health-check.sh; sourced, not run.
# shellcheck shell=bash

DIR=${AGENT_TRACE_STACK_DIR:-$HOME/.agent-trace/stack}
# DB holds the databases' files. As root they run as their own users (postgres,
# clickhouse), which cannot reach a private home: root's is 0700, and agent-trace-hook
# keeps ~/.agent-trace 0700 too. So as root they live under /var/lib/agent-trace, unless
# an earlier stack already keeps them in $DIR.
if [ -n "${AGENT_TRACE_STACK_DB:-}" ]; then
	DB=$AGENT_TRACE_STACK_DB
elif [ "$(id -u)" = 0 ] && [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
	DB=/var/lib/agent-trace/stack
else
	DB=$DIR
fi
PG_PORT=${STACK_PG_PORT:-15432}
CH_TCP_PORT=${STACK_CH_TCP_PORT:-19000}
CH_HTTP_PORT=${STACK_CH_HTTP_PORT:-18123}
COLLECTOR_PORT=${COLLECTOR_PORT:-8317}
API_PORT=${API_PORT:-8318}
DASHBOARD_PORT=${DASHBOARD_PORT:-3100}
OTLP_PORT=${OTLP_PORT:-4717}

log() { printf 'stack: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

use_docker() {
	[ "${AGENT_TRACE_STACK:-}" != local ] && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

ensure_installed() {
	local want=()
	pg_bindir >/dev/null || want+=(postgresql)
	command -v clickhouse-server >/dev/null || want+=(clickhouse-server)
	command -v clickhouse-client >/dev/null || want+=(clickhouse-client)
	[ ${#want[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing ${want[*]}; install them (apt-get install ${want[*]}) or run as root"
	log "apt-get install ${want[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >&2
}

# service_user NAME: the package's user when root (initdb and ClickHouse refuse or misbehave
# as root), else ourselves.
service_user() {
	if [ "$(id -u)" = 0 ]; then
		id "$1" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$1"
		echo "$1"
	else
		id -un
	fi
}

as_user() {
	local user=$1
	shift
	if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

pg_ready() { "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres 2>/dev/null; }
ch_ready() { http_ok "http://127.0.0.1:$CH_HTTP_PORT/ping"; }

# http_ok URL: the URL answers 2xx.
http_ok() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null
	else
		wget -q -O /dev/null -T 3 "$1" 2>/dev/null
	fi
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

running_pg() { pg_ready; }
running_ch() { pid_alive "$DB/ch/clickhouse.pid" && ch_ready; }
running_server() { pid_alive "$DIR/server.pid"; }

write_env() {
	mkdir -p "$DIR"
	local pg ch
	if [ "$1" = docker ]; then
		pg="postgres://agent_trace:${POSTGRES_PASSWORD:-agent_trace}@127.0.0.1:$PG_PORT/agent_trace?sslmode=disable"
		ch="clickhouse://agent_trace:${CLICKHOUSE_PASSWORD:-agent_trace}@127.0.0.1:$CH_TCP_PORT/agent_trace"
	else
		pg="postgres://postgres@127.0.0.1:$PG_PORT/agent_trace?sslmode=disable"
		ch="clickhouse://127.0.0.1:$CH_TCP_PORT/agent_trace"
	fi
	cat >"$DIR/stack.env.tmp" <<EOF
AGENT_TRACE_STACK_MODE=$1
POSTGRES_CONNECTION_STRING=$pg
CLICKHOUSE_URL=$ch
CLICKHOUSE_HTTP_URL=http://127.0.0.1:$CH_HTTP_PORT
AGENT_TRACE_URL=http://127.0.0.1:$COLLECTOR_PORT
AGENT_TRACE_API_URL=http://127.0.0.1:$API_PORT
AGENT_TRACE_DASHBOARD_URL=http://127.0.0.1:$DASHBOARD_PORT
STACK_PG_PORT=$PG_PORT
STACK_CH_TCP_PORT=$CH_TCP_PORT
STACK_CH_HTTP_PORT=$CH_HTTP_PORT
COLLECTOR_PORT=$COLLECTOR_PORT
API_PORT=$API_PORT
DASHBOARD_PORT=$DASHBOARD_PORT
OTLP_PORT=$OTLP_PORT
EOF
	mv "$DIR/stack.env.tmp" "$DIR/stack.env"
}

# load_env: the ports and mode the stack was started with, when it was.
load_env() {
	[ -f "$DIR/stack.env" ] || return 1
	set -a
	# shellcheck disable=SC1091
	. "$DIR/stack.env"
	set +a
	PG_PORT=$STACK_PG_PORT
	CH_TCP_PORT=$STACK_CH_TCP_PORT
	CH_HTTP_PORT=$STACK_CH_HTTP_PORT
}

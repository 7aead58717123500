#!/usr/bin/env bash
# Throwaway PostgreSQL and ClickHouse for the test suite.
#
#   scripts/test-services.sh [start]   install when missing, start both, write the env file
#   scripts/test-services.sh stop      stop both and delete their data
#   scripts/test-services.sh status    say whether both answer
#   scripts/test-services.sh env       print the env file
#
# Both run as local processes on free loopback ports with their data in a temporary
# directory, so tests never touch a real database. `start` is idempotent: when the
# services from a previous start still answer, it only prints their URLs.
#
# The env file (default .cache/test-services.env, override with AGENT_TRACE_SERVICES_ENV)
# holds KEY=VALUE lines for `set -a; . FILE; set +a`:
#   AGENT_TRACE_TEST_POSTGRES        postgres://postgres@127.0.0.1:PORT/agent_trace_test?sslmode=disable
#   AGENT_TRACE_TEST_CLICKHOUSE      clickhouse://127.0.0.1:PORT/default      (native protocol)
#   AGENT_TRACE_TEST_CLICKHOUSE_HTTP http://127.0.0.1:PORT                    (HTTP interface)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
env_file=${AGENT_TRACE_SERVICES_ENV:-$repo/.cache/test-services.env}
state_file=$env_file.state

log() { printf 'test-services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# port_free PORT: nothing accepts connections on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		if port_free "$p"; then echo "$p"; return 0; fi
	done
	die "no free loopback port found"
}

apt_updated=
apt_install() {
	[ "$(id -u)" = 0 ] || die "missing $*; install them (apt-get install $*) or run as root"
	if [ -z "$apt_updated" ]; then
		log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		apt_updated=1
	fi
	log "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
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
	if [ ${#want[@]} -gt 0 ]; then apt_install "${want[@]}"; fi
}

# as_user USER CMD...: run CMD as USER when we are root (initdb and ClickHouse refuse or
# misbehave as root), or as ourselves otherwise.
as_user() {
	local user=$1; shift
	if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

service_user() {
	# $1: the user the package created. Without root we run everything as ourselves.
	if [ "$(id -u)" = 0 ]; then
		id "$1" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$1"
		echo "$1"
	else
		id -un
	fi
}

pg_ready() { "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$1" -U postgres 2>/dev/null; }
ch_ready() { clickhouse-client --host 127.0.0.1 --port "$1" --query 'SELECT 1' >/dev/null 2>&1; }

load_state() {
	[ -f "$state_file" ] || return 1
	# shellcheck disable=SC1090
	. "$state_file"
}

running() {
	load_state || return 1
	pg_ready "$PG_PORT" && ch_ready "$CH_TCP_PORT"
}

start_postgres() {
	local dir=$1 port=$2 bin user
	bin=$(pg_bindir)
	user=$(service_user postgres)
	mkdir -p "$dir/pg" "$dir/pg-sock"
	chown "$user" "$dir/pg" "$dir/pg-sock"
	chmod 700 "$dir/pg"
	as_user "$user" "$bin/initdb" -D "$dir/pg/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/pg/initdb.log" 2>&1 ||
		{ cat "$dir/pg/initdb.log" >&2; die "initdb failed"; }
	# Durability is pointless for a throwaway test database; turning it off makes the
	# conformance suite several times faster on slow disks.
	as_user "$user" "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 start \
		-o "-p $port -c listen_addresses=127.0.0.1 -k $dir/pg-sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null ||
		{ cat "$dir/pg/server.log" >&2; die "postgres did not start"; }
	"$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres agent_trace_test
}

start_clickhouse() {
	local dir=$1 http=$2 tcp=$3 user i
	user=$(service_user clickhouse)
	mkdir -p "$dir/ch/data" "$dir/ch/tmp" "$dir/ch/user_files" "$dir/ch/log" "$dir/ch/format_schemas"
	# Written for ClickHouse 18.16 (Debian 12) and valid for current releases: loopback only,
	# every path in the temp dir, small caches, no system log tables (query_log, part_log and
	# friends are only created when configured).
	cat >"$dir/ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/ch/log/clickhouse-server.log</log>
        <errorlog>$dir/ch/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>50</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>$dir/ch/data/</path>
    <tmp_path>$dir/ch/tmp/</tmp_path>
    <user_files_path>$dir/ch/user_files/</user_files_path>
    <format_schema_path>$dir/ch/format_schemas/</format_schema_path>
    <users_config>$dir/ch/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
	cat >"$dir/ch/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <max_threads>2</max_threads>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks replace="replace">
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
	chown -R "$user" "$dir/ch"
	# start-stop-daemon detaches the server from this script and the make recipe that ran
	# it, and records its pid so `stop` ends exactly that process.
	local chuid=()
	[ "$(id -u)" = 0 ] && chuid=(--chuid "$user")
	start-stop-daemon --start --background --make-pidfile --pidfile "$dir/ch/clickhouse.pid" \
		"${chuid[@]}" --chdir "$dir/ch" --output "$dir/ch/log/stdout.log" \
		--exec "$(command -v clickhouse-server)" -- --config-file="$dir/ch/config.xml"
	for i in $(seq 1 120); do
		ch_ready "$tcp" && return 0
		sleep 0.5
	done
	cat "$dir/ch/log/stdout.log" "$dir/ch/log/clickhouse-server.err.log" >&2 2>/dev/null || true
	die "clickhouse did not answer on 127.0.0.1:$tcp"
}

write_env() {
	mkdir -p "$(dirname "$env_file")"
	cat >"$env_file.tmp" <<EOF
AGENT_TRACE_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PG_PORT/agent_trace_test?sslmode=disable
AGENT_TRACE_TEST_CLICKHOUSE=clickhouse://127.0.0.1:$CH_TCP_PORT/default
AGENT_TRACE_TEST_CLICKHOUSE_HTTP=http://127.0.0.1:$CH_HTTP_PORT
EOF
	mv "$env_file.tmp" "$env_file"
}

cmd_start() {
	if running; then
		log "already running (data in $DIR)"
		cat "$env_file"
		return 0
	fi
	cmd_stop >/dev/null 2>&1 || true
	ensure_installed
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/agent-trace-services.XXXXXX")
	chmod 755 "$DIR"
	PG_PORT=$(free_port)
	CH_HTTP_PORT=$(free_port)
	CH_TCP_PORT=$(free_port)
	while [ "$CH_HTTP_PORT" = "$PG_PORT" ]; do CH_HTTP_PORT=$(free_port); done
	while [ "$CH_TCP_PORT" = "$PG_PORT" ] || [ "$CH_TCP_PORT" = "$CH_HTTP_PORT" ]; do CH_TCP_PORT=$(free_port); done
	mkdir -p "$(dirname "$state_file")"
	printf 'DIR=%q\nPG_PORT=%s\nCH_HTTP_PORT=%s\nCH_TCP_PORT=%s\n' "$DIR" "$PG_PORT" "$CH_HTTP_PORT" "$CH_TCP_PORT" >"$state_file"
	log "starting postgresql on 127.0.0.1:$PG_PORT, clickhouse on 127.0.0.1:$CH_TCP_PORT (http $CH_HTTP_PORT); data in $DIR"
	start_postgres "$DIR" "$PG_PORT"
	start_clickhouse "$DIR" "$CH_HTTP_PORT" "$CH_TCP_PORT"
	log "clickhouse $(clickhouse-client --host 127.0.0.1 --port "$CH_TCP_PORT" --query 'SELECT version()'), $("$(pg_bindir)/postgres" --version)"
	write_env
	cat "$env_file"
}

cmd_stop() {
	load_state || { log "not running"; return 0; }
	local bin
	bin=$(pg_bindir || true)
	if [ -n "$bin" ] && [ -d "$DIR/pg/data" ]; then
		as_user "$(service_user postgres)" "$bin/pg_ctl" -D "$DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ -f "$DIR/ch/clickhouse.pid" ]; then
		start-stop-daemon --stop --quiet --oknodo --pidfile "$DIR/ch/clickhouse.pid" --retry TERM/20/KILL/5 || true
	fi
	case "$DIR" in */agent-trace-services.*) rm -rf "$DIR" ;; esac
	rm -f "$state_file" "$env_file"
	log "stopped"
}

cmd_status() {
	if running; then log "running (data in $DIR)"; cat "$env_file"; else log "not running"; return 1; fi
}

case "${1:-start}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cat "$env_file" ;;
*) die "usage: $0 [start|stop|status|env]" ;;
esac

#!/usr/bin/env bash
# Start the agent-trace team stack: PostgreSQL, ClickHouse and agent-trace-server.
#
#   scripts/start-stack.sh            start (idempotent: a running stack is left alone)
#   scripts/health-check.sh           check every service
#   scripts/stop-stack.sh [--purge]   stop (--purge also deletes the data)
#
# With a Docker engine (`docker info` succeeds) this runs deploy/docker-compose.yml. Without
# one it runs the same three services as local processes, PostgreSQL and ClickHouse from
# Debian's packages (installed when missing, as root), with their data kept under
# $AGENT_TRACE_STACK_DIR (default ~/.agent-trace/stack) across restarts. AGENT_TRACE_STACK=local
# forces the local mode even when Docker is present.
#
# Settings (environment):
#   AGENT_TRACE_STACK_DIR      data, logs and pid files (local mode)
#   STACK_PG_PORT              PostgreSQL port on 127.0.0.1 (default 15432)
#   STACK_CH_TCP_PORT          ClickHouse native port (default 19000)
#   STACK_CH_HTTP_PORT         ClickHouse HTTP port (default 18123)
#   COLLECTOR_PORT, API_PORT, DASHBOARD_PORT   the server's ports (8317, 8318, 3100)
#   AGENT_TRACE_SERVER_BIN     agent-trace-server to run (default: built from this tree)
#
# It writes $AGENT_TRACE_STACK_DIR/stack.env (KEY=VALUE: POSTGRES_CONNECTION_STRING,
# CLICKHOUSE_URL, AGENT_TRACE_URL, AGENT_TRACE_API_URL, AGENT_TRACE_DASHBOARD_URL), which the
# other two scripts read.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/stack-lib.sh
. "$repo/deploy/stack-lib.sh"

start_docker() {
	log "docker: compose up (deploy/docker-compose.yml)"
	# Not --wait: the one-shot migrate service exits, which some compose versions count as
	# a failure of --wait.
	docker compose -f "$repo/deploy/docker-compose.yml" up -d --build
	write_env docker
	local i
	for i in $(seq 1 120); do
		http_ok "http://127.0.0.1:$COLLECTOR_PORT/healthz" && return 0
		sleep 1
	done
	docker compose -f "$repo/deploy/docker-compose.yml" logs --tail 30 >&2
	die "agent-trace-server did not answer on http://127.0.0.1:$COLLECTOR_PORT/healthz"
}

start_local() {
	mkdir -p "$DIR" "$DIR/log" "$DIR/bin"
	chmod 755 "$DIR"
	ensure_installed
	if running_pg; then log "postgresql already running on 127.0.0.1:$PG_PORT"; else start_pg; fi
	if running_ch; then log "clickhouse already running on 127.0.0.1:$CH_TCP_PORT"; else start_ch; fi
	write_env local
	if running_server; then
		log "agent-trace-server already running (pid $(cat "$DIR/server.pid"))"
	else
		start_server
	fi
}

start_pg() {
	local bin user
	bin=$(pg_bindir)
	user=$(service_user postgres)
	mkdir -p "$DIR/pg" "$DIR/pg-sock"
	chown "$user" "$DIR/pg" "$DIR/pg-sock"
	chmod 700 "$DIR/pg"
	if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
		log "postgresql: initdb in $DIR/pg/data"
		as_user "$user" "$bin/initdb" -D "$DIR/pg/data" -U postgres -A trust -E UTF8 --locale=C >"$DIR/log/initdb.log" 2>&1 ||
			{ cat "$DIR/log/initdb.log" >&2; die "initdb failed"; }
	fi
	log "postgresql: starting on 127.0.0.1:$PG_PORT"
	as_user "$user" "$bin/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -w -t 60 start \
		-o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $DIR/pg-sock" >/dev/null ||
		{ cat "$DIR/pg/server.log" >&2; die "postgresql did not start"; }
	"$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'agent_trace'" | grep -q 1 ||
		"$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres agent_trace
}

start_ch() {
	local user i
	user=$(service_user clickhouse)
	mkdir -p "$DIR/ch/data" "$DIR/ch/tmp" "$DIR/ch/user_files" "$DIR/ch/format_schemas" "$DIR/ch/config.d" "$DIR/ch/users.d" "$DIR/log/ch"
	# The same small-install tuning as the Docker image, merged by ClickHouse from config.d
	# and users.d next to the generated files.
	cp "$repo/deploy/clickhouse/config.d/"*.xml "$DIR/ch/config.d/"
	cp "$repo/deploy/clickhouse/users.d/"*.xml "$DIR/ch/users.d/"
	cat >"$DIR/ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$DIR/log/ch/clickhouse-server.log</log>
        <errorlog>$DIR/log/ch/clickhouse-server.err.log</errorlog>
        <size>50M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <path>$DIR/ch/data/</path>
    <tmp_path>$DIR/ch/tmp/</tmp_path>
    <user_files_path>$DIR/ch/user_files/</user_files_path>
    <format_schema_path>$DIR/ch/format_schemas/</format_schema_path>
    <users_config>$DIR/ch/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF
	cat >"$DIR/ch/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles><default></default></profiles>
    <users>
        <default>
            <password></password>
            <networks replace="replace"><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
	chown -R "$user" "$DIR/ch" "$DIR/log/ch"
	local chuid=()
	[ "$(id -u)" = 0 ] && chuid=(--chuid "$user")
	log "clickhouse: starting on 127.0.0.1:$CH_TCP_PORT (http $CH_HTTP_PORT)"
	start-stop-daemon --start --background --make-pidfile --pidfile "$DIR/ch/clickhouse.pid" \
		"${chuid[@]}" --chdir "$DIR/ch" --output "$DIR/log/ch/stdout.log" \
		--exec "$(command -v clickhouse-server)" -- --config-file="$DIR/ch/config.xml"
	for i in $(seq 1 120); do
		ch_ready && return 0
		sleep 0.5
	done
	cat "$DIR/log/ch/stdout.log" "$DIR/log/ch/clickhouse-server.err.log" >&2 2>/dev/null || true
	die "clickhouse did not answer on 127.0.0.1:$CH_TCP_PORT"
}

server_bin() {
	if [ -n "${AGENT_TRACE_SERVER_BIN:-}" ]; then
		echo "$AGENT_TRACE_SERVER_BIN"
		return
	fi
	log "building agent-trace-server"
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$DIR/bin/agent-trace-server" ./cmd/agent-trace-server) >&2
	echo "$DIR/bin/agent-trace-server"
}

start_server() {
	local bin i
	bin=$(server_bin)
	# An older server would ignore the team settings and quietly store in SQLite.
	"$bin" --help 2>&1 | grep -q -- --postgres ||
		die "$bin has no team store (no --postgres flag); build agent-trace-server from a newer tree"
	set -a
	# shellcheck disable=SC1091
	. "$DIR/stack.env"
	set +a
	log "agent-trace-server: migrate"
	"$bin" migrate >>"$DIR/log/server.log" 2>&1 || { tail -n 20 "$DIR/log/server.log" >&2; die "migrate failed"; }
	log "agent-trace-server: collector :$COLLECTOR_PORT, API :$API_PORT, dashboard :$DASHBOARD_PORT"
	COLLECTOR_PORT=$COLLECTOR_PORT API_PORT=$API_PORT DASHBOARD_PORT=$DASHBOARD_PORT \
		start-stop-daemon --start --background --make-pidfile --pidfile "$DIR/server.pid" \
		--chdir "$DIR" --output "$DIR/log/server.log" --exec "$bin" -- serve
	for i in $(seq 1 60); do
		http_ok "$AGENT_TRACE_URL/healthz" && return 0
		sleep 0.5
	done
	tail -n 30 "$DIR/log/server.log" >&2
	die "agent-trace-server did not answer on $AGENT_TRACE_URL/healthz"
}

if use_docker; then start_docker; else start_local; fi
log "stack is up; settings in $DIR/stack.env"
cat "$DIR/stack.env"

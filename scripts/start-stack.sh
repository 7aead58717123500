#!/usr/bin/env bash
# Start the agent-trace team stack: PostgreSQL, ClickHouse and agent-trace-server.
#
#   scripts/start-stack.sh            start (idempotent: a running stack is left alone)
#   scripts/start-stack.sh dev        hot reload: PostgreSQL and ClickHouse as above, and the
#                                     server built from this working tree, in the foreground,
#                                     rebuilt and restarted whenever a Go file, template, asset
#                                     or migration under cmd/, internal/ or event/ changes (or
#                                     go.mod/go.sum); Ctrl-C stops the server, the databases
#                                     keep running (stop-stack.sh stops them)
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
#   OTLP_PORT                  its OTLP receiver for Claude Code's telemetry (4717)
#   AGENT_TRACE_SERVER_BIN     agent-trace-server to run (default: built from this tree;
#                              dev mode always builds it)
#   AGENT_TRACE_DEV_POLL       dev mode: seconds between looks for changed files (default 1)
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
	mkdir -p "$DIR" "$DIR/log" "$DIR/bin" "$DB"
	chmod 755 "$DIR" "$DB"
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
	mkdir -p "$DB/pg" "$DB/pg-sock"
	chown "$user" "$DB/pg" "$DB/pg-sock"
	chmod 700 "$DB/pg"
	if [ ! -f "$DB/pg/data/PG_VERSION" ]; then
		log "postgresql: initdb in $DB/pg/data"
		as_user "$user" "$bin/initdb" -D "$DB/pg/data" -U postgres -A trust -E UTF8 --locale=C >"$DIR/log/initdb.log" 2>&1 ||
			{ cat "$DIR/log/initdb.log" >&2; die "initdb failed"; }
	fi
	log "postgresql: starting on 127.0.0.1:$PG_PORT"
	as_user "$user" "$bin/pg_ctl" -D "$DB/pg/data" -l "$DB/pg/server.log" -w -t 60 start \
		-o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $DB/pg-sock" >/dev/null ||
		{ cat "$DB/pg/server.log" >&2; die "postgresql did not start"; }
	"$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'agent_trace'" | grep -q 1 ||
		"$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres agent_trace
}

start_ch() {
	local user i
	user=$(service_user clickhouse)
	mkdir -p "$DB/ch/data" "$DB/ch/tmp" "$DB/ch/user_files" "$DB/ch/format_schemas" "$DB/ch/config.d" "$DB/ch/users.d" "$DB/log/ch"
	# The same small-install tuning as the Docker image, merged by ClickHouse from config.d
	# and users.d next to the generated files.
	cp "$repo/deploy/clickhouse/config.d/"*.xml "$DB/ch/config.d/"
	cp "$repo/deploy/clickhouse/users.d/"*.xml "$DB/ch/users.d/"
	cat >"$DB/ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$DB/log/ch/clickhouse-server.log</log>
        <errorlog>$DB/log/ch/clickhouse-server.err.log</errorlog>
        <size>50M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <path>$DB/ch/data/</path>
    <tmp_path>$DB/ch/tmp/</tmp_path>
    <user_files_path>$DB/ch/user_files/</user_files_path>
    <format_schema_path>$DB/ch/format_schemas/</format_schema_path>
    <users_config>$DB/ch/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF
	cat >"$DB/ch/users.xml" <<'EOF'
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
	chown -R "$user" "$DB/ch" "$DB/log/ch"
	local chuid=()
	[ "$(id -u)" = 0 ] && chuid=(--chuid "$user")
	log "clickhouse: starting on 127.0.0.1:$CH_TCP_PORT (http $CH_HTTP_PORT)"
	start-stop-daemon --start --background --make-pidfile --pidfile "$DB/ch/clickhouse.pid" \
		"${chuid[@]}" --chdir "$DB/ch" --output "$DB/log/ch/stdout.log" \
		--exec "$(command -v clickhouse-server)" -- --config-file="$DB/ch/config.xml"
	for i in $(seq 1 120); do
		ch_ready && return 0
		sleep 0.5
	done
	cat "$DB/log/ch/stdout.log" "$DB/log/ch/clickhouse-server.err.log" >&2 2>/dev/null || true
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
	COLLECTOR_PORT=$COLLECTOR_PORT API_PORT=$API_PORT DASHBOARD_PORT=$DASHBOARD_PORT OTLP_PORT=$OTLP_PORT \
		start-stop-daemon --start --background --make-pidfile --pidfile "$DIR/server.pid" \
		--chdir "$DIR" --output "$DIR/log/server.log" --exec "$bin" -- serve
	for i in $(seq 1 60); do
		http_ok "$AGENT_TRACE_URL/healthz" && return 0
		sleep 0.5
	done
	tail -n 30 "$DIR/log/server.log" >&2
	die "agent-trace-server did not answer on $AGENT_TRACE_URL/healthz"
}

# start_databases: PostgreSQL and ClickHouse alone, for dev mode's own server.
start_databases() {
	if use_docker; then
		log "docker: compose up postgres clickhouse (deploy/docker-compose.yml)"
		# A server container would hold the ports the dev server is about to take.
		docker compose -f "$repo/deploy/docker-compose.yml" stop server >/dev/null 2>&1 || true
		docker compose -f "$repo/deploy/docker-compose.yml" up -d --wait postgres clickhouse
		write_env docker
		return
	fi
	mkdir -p "$DIR" "$DIR/log" "$DIR/bin" "$DB"
	chmod 755 "$DIR" "$DB"
	ensure_installed
	if running_pg; then log "postgresql already running on 127.0.0.1:$PG_PORT"; else start_pg; fi
	if running_ch; then log "clickhouse already running on 127.0.0.1:$CH_TCP_PORT"; else start_ch; fi
	write_env local
}

# dev_fingerprint changes whenever a file the server is built or embeds from is added,
# removed or modified since the stamp: polled, since inotify tools may not be installed,
# and portable (find -newer and cksum are POSIX, unlike stat's flags).
dev_fingerprint() {
	(
		cd "$repo" || exit 1
		find cmd internal event go.mod go.sum -type f ! -name '*_test.go' ! -path '*/testdata/*' | sort | cksum
		find cmd internal event go.mod go.sum -type f ! -name '*_test.go' ! -path '*/testdata/*' -newer "$DIR/dev.stamp" | sort
	) 2>/dev/null | cksum
}

# dev_build builds the server from the working tree; a failed build keeps the running one.
dev_build() {
	log "dev: building agent-trace-server from $repo"
	if (cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$DIR/bin/agent-trace-server.next" ./cmd/agent-trace-server); then
		mv "$DIR/bin/agent-trace-server.next" "$DIR/bin/agent-trace-server"
		return 0
	fi
	log "dev: build failed; fix it and save (the previous server, if any, keeps running)"
	return 1
}

dev_stop() {
	if pid_alive "$DIR/server.pid"; then
		local pid
		pid=$(cat "$DIR/server.pid")
		kill -TERM "$pid" 2>/dev/null || true
		# It finishes its requests and flushes ClickHouse's buffer first.
		wait "$pid" 2>/dev/null || while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	fi
	rm -f "$DIR/server.pid"
}

# dev_start migrates (the tree may carry a new migration) and starts the server in the
# background of this shell, its output on the terminal.
dev_start() {
	local bin=$DIR/bin/agent-trace-server i
	set -a
	# shellcheck disable=SC1091
	. "$DIR/stack.env"
	set +a
	"$bin" migrate || { log "dev: migrate failed; fix it and save"; return 1; }
	COLLECTOR_PORT=$COLLECTOR_PORT API_PORT=$API_PORT DASHBOARD_PORT=$DASHBOARD_PORT "$bin" serve &
	echo $! >"$DIR/server.pid"
	for i in $(seq 1 60); do
		if http_ok "$AGENT_TRACE_URL/healthz"; then
			log "dev: server up (pid $(cat "$DIR/server.pid")): collector $AGENT_TRACE_URL, dashboard $AGENT_TRACE_DASHBOARD_URL"
			return 0
		fi
		pid_alive "$DIR/server.pid" || break
		sleep 0.5
	done
	log "dev: the server did not answer on $AGENT_TRACE_URL/healthz; fix it and save"
}

start_dev() {
	command -v go >/dev/null || die "dev mode builds the server from this tree: install Go"
	start_databases
	if pid_alive "$DIR/server.pid"; then
		log "dev: stopping the server start-stack.sh started (pid $(cat "$DIR/server.pid")); dev mode runs its own"
		start-stop-daemon --stop --quiet --oknodo --pidfile "$DIR/server.pid" --retry TERM/30/KILL/5 || true
		rm -f "$DIR/server.pid"
	fi
	trap 'log "dev: stopping"; dev_stop; exit 0' INT TERM
	local seen
	# The fingerprint is taken before each build, so a file saved during it brings
	# another build.
	touch "$DIR/dev.stamp"
	seen=$(dev_fingerprint)
	dev_build && dev_start
	log "dev: watching cmd/, internal/, event/, go.mod and go.sum every ${AGENT_TRACE_DEV_POLL:-1}s; Ctrl-C stops the server"
	while :; do
		sleep "${AGENT_TRACE_DEV_POLL:-1}"
		[ "$(dev_fingerprint)" = "$seen" ] && continue
		log "dev: change seen; rebuilding"
		touch "$DIR/dev.stamp"
		seen=$(dev_fingerprint)
		if dev_build; then
			dev_stop
			dev_start || true
		fi
	done
}

case "${1:-}" in
dev) start_dev ;;
"")
	if use_docker; then start_docker; else start_local; fi
	log "stack is up; settings in $DIR/stack.env"
	cat "$DIR/stack.env"
	;;
*) die "usage: $0 [dev]" ;;
esac

#!/usr/bin/env bash
# Throwaway PostgreSQL, ClickHouse and a ClickHouse cluster for the test suite.
#
#   scripts/test-services.sh [start]   install when missing, start them all, write the env file
#   scripts/test-services.sh stop      stop them all and delete their data
#   scripts/test-services.sh status    say whether they answer
#   scripts/test-services.sh env       print the env file
#
# All run as local processes on free loopback ports with their data in a temporary
# directory, so tests never touch a real database. `start` is idempotent: when the
# services from a previous start still answer, it only prints their URLs.
#
# The cluster is what a team runs ClickHouse as when one node is not enough: ZooKeeper
# (Debian's package) coordinates two more clickhouse-server processes, each one shard of
# the cluster "agent_trace_test" with its own data directory, so that ON CLUSTER DDL,
# Replicated*MergeTree tables and Distributed tables are real.
#
# The env file (default .cache/test-services.env, override with AGENT_TRACE_SERVICES_ENV)
# holds KEY=VALUE lines for `set -a; . FILE; set +a`:
#   AGENT_TRACE_TEST_POSTGRES        postgres://postgres@127.0.0.1:PORT/agent_trace_test?sslmode=disable
#   AGENT_TRACE_TEST_CLICKHOUSE      clickhouse://127.0.0.1:PORT/default      (native protocol)
#   AGENT_TRACE_TEST_CLICKHOUSE_HTTP http://127.0.0.1:PORT                    (HTTP interface)
#   AGENT_TRACE_TEST_CLICKHOUSE_CLUSTER       clickhouse://127.0.0.1:P1,127.0.0.1:P2/default
#   AGENT_TRACE_TEST_CLICKHOUSE_CLUSTER_NAME  agent_trace_test
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
	[ -f /usr/share/java/zookeeper.jar ] || want+=(zookeeper)
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
	[ -n "${ZK_PORT:-}" ] || return 1
	pg_ready "$PG_PORT" && ch_ready "$CH_TCP_PORT" && ch_ready "$CH1_TCP_PORT" && ch_ready "$CH2_TCP_PORT"
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

# start_clickhouse DIR HTTP TCP [NAME [EXTRA_XML]]: a clickhouse-server with its data in
# DIR/NAME (default ch); EXTRA_XML goes into its config (the cluster nodes' ZooKeeper,
# remote_servers and macros).
start_clickhouse() {
	local dir=$1 http=$2 tcp=$3 name=${4:-ch} extra=${5:-} user i
	local home=$dir/$name
	user=$(service_user clickhouse)
	mkdir -p "$home/data" "$home/tmp" "$home/user_files" "$home/log" "$home/format_schemas"
	# Written for ClickHouse 18.16 (Debian 12) and valid for current releases: loopback only,
	# every path in the temp dir, small caches, no system log tables (query_log, part_log and
	# friends are only created when configured).
	cat >"$home/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$home/log/clickhouse-server.log</log>
        <errorlog>$home/log/clickhouse-server.err.log</errorlog>
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
    <path>$home/data/</path>
    <tmp_path>$home/tmp/</tmp_path>
    <user_files_path>$home/user_files/</user_files_path>
    <format_schema_path>$home/format_schemas/</format_schema_path>
    <users_config>$home/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
$extra
</yandex>
EOF
	cat >"$home/users.xml" <<'EOF'
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
	chown -R "$user" "$home"
	# start-stop-daemon detaches the server from this script and the make recipe that ran
	# it, and records its pid so `stop` ends exactly that process.
	local chuid=()
	[ "$(id -u)" = 0 ] && chuid=(--chuid "$user")
	start-stop-daemon --start --background --make-pidfile --pidfile "$home/clickhouse.pid" \
		"${chuid[@]}" --chdir "$home" --output "$home/log/stdout.log" \
		--exec "$(command -v clickhouse-server)" -- --config-file="$home/config.xml"
	for i in $(seq 1 120); do
		ch_ready "$tcp" && return 0
		sleep 0.5
	done
	cat "$home/log/stdout.log" "$home/log/clickhouse-server.err.log" >&2 2>/dev/null || true
	die "clickhouse did not answer on 127.0.0.1:$tcp"
}

zk_ready() { [ "$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && echo ruok >&3 && timeout 2 cat <&3) 2>/dev/null)" = imok ]; }

# start_zookeeper DIR PORT: a standalone ZooKeeper from Debian's package, data in DIR/zk.
start_zookeeper() {
	local dir=$1 port=$2 user cp i
	user=$(service_user zookeeper)
	mkdir -p "$dir/zk/data"
	cat >"$dir/zk/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/zk/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
EOF
	chown -R "$user" "$dir/zk"
	cp=/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/netty.jar
	local chuid=()
	[ "$(id -u)" = 0 ] && chuid=(--chuid "$user")
	start-stop-daemon --start --background --make-pidfile --pidfile "$dir/zk/zookeeper.pid" \
		"${chuid[@]}" --chdir "$dir/zk" --output "$dir/zk/stdout.log" \
		--exec "$(readlink -f "$(command -v java)")" -- -Xmx256m -cp "$cp" \
		org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zk/zoo.cfg"
	for i in $(seq 1 120); do
		zk_ready "$port" && return 0
		sleep 0.5
	done
	cat "$dir/zk/stdout.log" >&2 || true
	die "zookeeper did not answer on 127.0.0.1:$port"
}

# cluster_xml SHARD: the config that makes a node shard SHARD of agent_trace_test.
cluster_xml() {
	cat <<EOF
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>$([ "$1" = 1 ] && echo "$CH1_IS_PORT" || echo "$CH2_IS_PORT")</interserver_http_port>
    <zookeeper><node><host>127.0.0.1</host><port>$ZK_PORT</port></node></zookeeper>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
    <macros><shard>0$1</shard><replica>node$1</replica></macros>
    <remote_servers>
        <agent_trace_test>
            <shard><internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$CH1_TCP_PORT</port></replica></shard>
            <shard><internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$CH2_TCP_PORT</port></replica></shard>
        </agent_trace_test>
    </remote_servers>
EOF
}

write_env() {
	mkdir -p "$(dirname "$env_file")"
	cat >"$env_file.tmp" <<EOF
AGENT_TRACE_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PG_PORT/agent_trace_test?sslmode=disable
AGENT_TRACE_TEST_CLICKHOUSE=clickhouse://127.0.0.1:$CH_TCP_PORT/default
AGENT_TRACE_TEST_CLICKHOUSE_HTTP=http://127.0.0.1:$CH_HTTP_PORT
AGENT_TRACE_TEST_CLICKHOUSE_CLUSTER=clickhouse://127.0.0.1:$CH1_TCP_PORT,127.0.0.1:$CH2_TCP_PORT/default
AGENT_TRACE_TEST_CLICKHOUSE_CLUSTER_NAME=agent_trace_test
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
	local taken=" " v p
	for v in PG_PORT CH_HTTP_PORT CH_TCP_PORT ZK_PORT CH1_HTTP_PORT CH1_TCP_PORT CH1_IS_PORT CH2_HTTP_PORT CH2_TCP_PORT CH2_IS_PORT; do
		p=$(free_port)
		while [[ "$taken" == *" $p "* ]]; do p=$(free_port); done
		taken="$taken$p "
		printf -v "$v" '%s' "$p"
	done
	mkdir -p "$(dirname "$state_file")"
	{
		printf 'DIR=%q\n' "$DIR"
		for v in PG_PORT CH_HTTP_PORT CH_TCP_PORT ZK_PORT CH1_HTTP_PORT CH1_TCP_PORT CH1_IS_PORT CH2_HTTP_PORT CH2_TCP_PORT CH2_IS_PORT; do
			printf '%s=%s\n' "$v" "${!v}"
		done
	} >"$state_file"
	log "starting postgresql on 127.0.0.1:$PG_PORT, clickhouse on 127.0.0.1:$CH_TCP_PORT (http $CH_HTTP_PORT), zookeeper on 127.0.0.1:$ZK_PORT and a 2-shard clickhouse cluster on 127.0.0.1:$CH1_TCP_PORT,$CH2_TCP_PORT; data in $DIR"
	start_postgres "$DIR" "$PG_PORT"
	start_zookeeper "$DIR" "$ZK_PORT"
	start_clickhouse "$DIR" "$CH_HTTP_PORT" "$CH_TCP_PORT" &
	start_clickhouse "$DIR" "$CH1_HTTP_PORT" "$CH1_TCP_PORT" ch1 "$(cluster_xml 1)" &
	start_clickhouse "$DIR" "$CH2_HTTP_PORT" "$CH2_TCP_PORT" ch2 "$(cluster_xml 2)" &
	local pid fail=
	for pid in $(jobs -p); do wait "$pid" || fail=1; done
	[ -z "$fail" ] || die "a clickhouse server did not start"
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
	local name
	for name in ch ch1 ch2; do
		if [ -f "$DIR/$name/clickhouse.pid" ]; then
			start-stop-daemon --stop --quiet --oknodo --pidfile "$DIR/$name/clickhouse.pid" --retry TERM/20/KILL/5 || true
		fi
	done
	if [ -f "$DIR/zk/zookeeper.pid" ]; then
		start-stop-daemon --stop --quiet --oknodo --pidfile "$DIR/zk/zookeeper.pid" --retry TERM/20/KILL/5 || true
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

# shellcheck shell=bash
# Provisioning of throwaway PostgreSQL, MariaDB and Redis servers on 127.0.0.1, shared by scripts/test and
# scripts/dev-dbs. Source it, then:
#
#   dbs_install_missing            install mariadb-server / redis-server / chromium (and PostgreSQL) with apt-get when missing
#   dbs_start DIR                  start the three servers (in parallel) with their state under DIR; writes DIR/env.sh
#   dbs_stop DIR                   stop whatever dbs_start started under DIR (idempotent, quiet)
#
# After dbs_start, DIR/env.sh holds `export LLANA_TEST_...=` lines for the servers that came up, and
# DBS_FAILED lists the ones that did not. Everything here logs to stderr; stdout stays free for callers.
#
# Knobs: LLANA_PG_BIN (PostgreSQL bin directory), LLANA_PG_OS_USER (see dbs_pick_pg_os_user), DBS_START_TIMEOUT (seconds per server, default 90).

DBS_START_TIMEOUT="${DBS_START_TIMEOUT:-90}"
DBS_FAILED=""

dbs_log() { printf '[dbs] %s\n' "$*" >&2; }

dbs_is_root() { [ "$(id -u)" = 0 ]; }

# A random hex string, URL- and shell-safe, used for passwords.
dbs_random_hex() { od -An -tx1 -N12 /dev/urandom | tr -d ' \n'; }

dbs_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints a loopback TCP port nobody listens on. Below the Linux ephemeral range so outgoing connections
# do not grab it between the probe and the bind; the starters retry with another port if the bind fails anyway.
dbs_free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    if ! dbs_port_in_use "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

dbs_pg_bin() {
  if [ -n "${LLANA_PG_BIN:-}" ] && [ -x "$LLANA_PG_BIN/initdb" ]; then
    echo "$LLANA_PG_BIN"
    return 0
  fi
  local d
  # Highest installed major version first.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null)"
    if [ -x "$d/initdb" ]; then
      echo "$d"
      return 0
    fi
  fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

dbs_mariadbd() {
  local c
  for c in mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld; do
    if command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

dbs_first_cmd() {
  local c
  for c in "$@"; do
    if command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

dbs_redis_server() { dbs_first_cmd redis-server /usr/bin/redis-server /usr/sbin/redis-server; }

# Installs the Debian packages of the servers that are missing. Returns non-zero (with a message) when
# something is missing and cannot be installed.
dbs_install_missing() {
  local need=()
  dbs_pg_bin >/dev/null || need+=(postgresql)
  { dbs_mariadbd >/dev/null && dbs_first_cmd mariadb-install-db mysql_install_db >/dev/null &&
    dbs_first_cmd mariadb mysql >/dev/null && dbs_first_cmd mariadb-admin mysqladmin >/dev/null; } || need+=(mariadb-server)
  dbs_redis_server >/dev/null || need+=(redis-server)
  # Headless Chromium renders the docs page in the browser tests.
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # The change-capture tests write with the databases' own command-line clients.
  command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
  [ ${#need[@]} -eq 0 ] && return 0

  if ! dbs_is_root || ! command -v apt-get >/dev/null 2>&1; then
    dbs_log "missing: ${need[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${need[*]}) or run this script as root on a Debian-based machine."
    return 1
  fi

  dbs_log "installing ${need[*]} with apt-get"
  # Keep the packages' maintainer scripts from starting system-wide services on the default ports.
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || rc=$?
  if [ "$rc" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}" >&2 || rc=$?
  fi
  [ -n "$created_policy" ] && rm -f "$policy"
  if [ "$rc" != 0 ]; then
    dbs_log "apt-get failed (exit $rc) installing ${need[*]}"
    return 1
  fi
  return 0
}

# Runs a command as the OS user that owns the PostgreSQL cluster (initdb/postgres refuse to run as root).
dbs_as_pg_user() {
  if [ -z "${DBS_PG_OS_USER:-}" ]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$DBS_PG_OS_USER" -- "$@"
  else
    su -s /bin/sh "$DBS_PG_OS_USER" -c "$(printf '%q ' "$@")"
  fi
}

# As root: the `postgres` OS user when it exists (Debian's packages create it), else a dedicated system user
# `llana-pg`, created on first use. LLANA_PG_OS_USER picks another name.
dbs_pick_pg_os_user() {
  DBS_PG_OS_USER=""
  dbs_is_root || return 0
  local u="${LLANA_PG_OS_USER:-}"
  if [ -z "$u" ]; then
    u=llana-pg
    id postgres >/dev/null 2>&1 && u=postgres
  fi
  if ! id "$u" >/dev/null 2>&1; then
    dbs_log "postgres: creating OS user $u to run PostgreSQL (it refuses to run as root)"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" 2>/dev/null ||
      adduser --system --no-create-home --disabled-login --group "$u" >/dev/null 2>&1 || return 1
  fi
  DBS_PG_OS_USER="$u"
}

dbs_pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Waits until `$2...` succeeds, at most $1 seconds.
dbs_wait_for() {
  local timeout="$1" start
  shift
  start=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
      return 1
    fi
    sleep 0.2
  done
}

# ---- PostgreSQL -----------------------------------------------------------------------------------

dbs_start_postgres() {
  local dir="$1/pg" password="$2" bin port attempt
  bin="$(dbs_pg_bin)" || { dbs_log "postgres: no PostgreSQL binaries found (set LLANA_PG_BIN)"; return 1; }
  dbs_pick_pg_os_user || { dbs_log "postgres: cannot create an OS user to run PostgreSQL as"; return 1; }

  mkdir -p "$dir"
  printf '%s\n' "$password" >"$dir/pwfile"
  [ -n "$DBS_PG_OS_USER" ] && chown -R "$DBS_PG_OS_USER" "$dir"
  chmod 700 "$dir"
  if ! dbs_as_pg_user test -w "$dir"; then
    dbs_log "postgres: OS user ${DBS_PG_OS_USER:-$(id -un)} cannot reach $dir (make its parent folders traversable, e.g. chmod 755)"
    return 1
  fi

  if ! dbs_as_pg_user "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --no-locale --no-sync \
    >"$dir/initdb.log" 2>&1; then
    dbs_log "postgres: initdb failed:"
    tail -n 20 "$dir/initdb.log" >&2
    return 1
  fi
  rm -f "$dir/pwfile"

  for attempt in 1 2 3; do
    port="$(dbs_free_port)" || return 1
    # listen_addresses keeps it on loopback; durability is pointless for throwaway test data.
    if dbs_as_pg_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t "$DBS_START_TIMEOUT" \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 -c shared_buffers=64MB -c wal_level=logical -c max_replication_slots=100 -c max_wal_senders=100" \
      start >"$dir/pg_ctl.log" 2>&1; then
      if dbs_wait_for "$DBS_START_TIMEOUT" "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        echo "$port" >"$1/postgres.port"
        return 0
      fi
    fi
    dbs_log "postgres: start on port $port failed (attempt $attempt):"
    tail -n 5 "$dir/server.log" >&2 2>/dev/null
    dbs_stop_postgres "$1"
  done
  return 1
}

dbs_stop_postgres() {
  local pidfile="$1/pg/data/postmaster.pid" pid
  [ -f "$pidfile" ] || return 0
  pid="$(head -n 1 "$pidfile" 2>/dev/null)"
  if dbs_pid_alive "$pid" && grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
    kill -QUIT "$pid" 2>/dev/null # immediate shutdown: nothing here is worth a checkpoint
    dbs_wait_for 15 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}

# ---- MariaDB --------------------------------------------------------------------------------------

dbs_start_mariadb() {
  local dir="$1/mariadb" password="$2" mysqld installdb client admin port attempt pid user_args=()
  mysqld="$(dbs_mariadbd)" || { dbs_log "mariadb: mariadbd not found"; return 1; }
  installdb="$(dbs_first_cmd mariadb-install-db mysql_install_db)" || { dbs_log "mariadb: mariadb-install-db not found"; return 1; }
  client="$(dbs_first_cmd mariadb mysql)" || { dbs_log "mariadb: mariadb client not found"; return 1; }
  admin="$(dbs_first_cmd mariadb-admin mysqladmin)" || { dbs_log "mariadb: mariadb-admin not found"; return 1; }
  dbs_is_root && user_args=(--user=root)

  mkdir -p "$dir/tmp"
  if ! "$installdb" --no-defaults "${user_args[@]}" --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >"$dir/install.log" 2>&1; then
    dbs_log "mariadb: mariadb-install-db failed:"
    tail -n 20 "$dir/install.log" >&2
    return 1
  fi

  for attempt in 1 2 3; do
    port="$(dbs_free_port)" || return 1
    rm -f "$dir/mariadb.pid" "$dir/mariadb.sock"
    "$mysqld" --no-defaults "${user_args[@]}" --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
      --socket="$dir/mariadb.sock" --pid-file="$dir/mariadb.pid" --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
      --skip-log-bin --skip-name-resolve --max-connections=500 --character-set-server=utf8mb4 \
      --collation-server=utf8mb4_unicode_ci --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
      --innodb-buffer-pool-size=128M --sync-binlog=0 </dev/null >>"$dir/stdout.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/launcher.pid"
    local start ready=""
    start=$(date +%s)
    while [ $(($(date +%s) - start)) -lt "$DBS_START_TIMEOUT" ]; do
      dbs_pid_alive "$pid" || break
      if "$admin" --no-defaults --socket="$dir/mariadb.sock" -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
        ready=1
        break
      fi
      sleep 0.2
    done
    if [ -n "$ready" ]; then
      # root over TCP (skip-name-resolve: 127.0.0.1 is its own host entry) and over the socket, one password.
      if "$client" --no-defaults --socket="$dir/mariadb.sock" -uroot -e "
          CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
          ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$password';
          GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
          ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';
          FLUSH PRIVILEGES;" >>"$dir/stdout.log" 2>&1 &&
        "$client" --no-defaults -h127.0.0.1 -P"$port" -uroot -p"$password" -e 'SELECT 1' >/dev/null 2>>"$dir/stdout.log"; then
        echo "$port" >"$1/mariadb.port"
        return 0
      fi
      dbs_log "mariadb: setting the root password failed:"
      tail -n 5 "$dir/stdout.log" >&2
    else
      dbs_log "mariadb: not ready on port $port (attempt $attempt):"
      tail -n 5 "$dir/error.log" >&2 2>/dev/null
    fi
    dbs_stop_mariadb "$1"
  done
  return 1
}

dbs_stop_mariadb() {
  dbs_stop_pidfiles 'mariadbd|mysqld' 20 "$1/mariadb/mariadb.pid" "$1/mariadb/launcher.pid"
}

# ---- Redis ----------------------------------------------------------------------------------------

dbs_redis_ping() {
  local reply=""
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3
  exec 3>&-
  [ "${reply%$'\r'}" = "+PONG" ]
}

dbs_start_redis() {
  local dir="$1/redis" server port attempt pid
  server="$(dbs_redis_server)" || { dbs_log "redis: redis-server not found"; return 1; }
  mkdir -p "$dir"
  for attempt in 1 2 3; do
    port="$(dbs_free_port)" || return 1
    "$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$dir/launcher.pid"
    local start ready=""
    start=$(date +%s)
    while [ $(($(date +%s) - start)) -lt "$DBS_START_TIMEOUT" ]; do
      dbs_pid_alive "$pid" || break
      if dbs_redis_ping "$port" 2>/dev/null; then
        ready=1
        break
      fi
      sleep 0.1
    done
    if [ -n "$ready" ]; then
      echo "$port" >"$1/redis.port"
      return 0
    fi
    dbs_log "redis: not ready on port $port (attempt $attempt):"
    tail -n 5 "$dir/redis.log" >&2 2>/dev/null
    dbs_stop_redis "$1"
  done
  return 1
}

dbs_stop_redis() {
  dbs_stop_pidfiles 'redis' 10 "$1/redis/redis.pid" "$1/redis/launcher.pid"
}

# Stops the process of each pid file, if it is still the server named by PATTERN (a pid may have been
# reused), with TERM then KILL after TIMEOUT seconds; removes the files.
dbs_stop_pidfiles() {
  local pattern="$1" timeout="$2" pid f
  shift 2
  for f in "$@"; do
    [ -f "$f" ] || continue
    pid="$(head -n 1 "$f" 2>/dev/null)"
    if dbs_pid_alive "$pid" && grep -Eq "$pattern" "/proc/$pid/comm" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      dbs_wait_for "$timeout" sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$f"
  done
}

# ---- all three ------------------------------------------------------------------------------------

# Starts PostgreSQL, MariaDB and Redis in parallel under DIR (created; must be empty or absent).
# Writes DIR/env.sh; sets DBS_FAILED to the names of the servers that did not start. Returns 0 when all started.
dbs_start() {
  local base="$1" pg_pw my_pw
  mkdir -p "$base"
  # The PostgreSQL OS user must be able to reach its own subfolder.
  chmod 755 "$base"
  pg_pw="$(dbs_random_hex)"
  my_pw="$(dbs_random_hex)"

  local t0
  t0=$(date +%s)
  dbs_start_postgres "$base" "$pg_pw" &
  local pg_job=$!
  dbs_start_mariadb "$base" "$my_pw" &
  local my_job=$!
  dbs_start_redis "$base" &
  local redis_job=$!

  DBS_FAILED=""
  wait "$pg_job" || DBS_FAILED="$DBS_FAILED postgres"
  wait "$my_job" || DBS_FAILED="$DBS_FAILED mariadb"
  wait "$redis_job" || DBS_FAILED="$DBS_FAILED redis"
  DBS_FAILED="${DBS_FAILED# }"

  {
    echo "# written by scripts/lib/dbs.sh; servers under $base"
    [ -f "$base/postgres.port" ] &&
      echo "export LLANA_TEST_POSTGRES_URI=postgresql://postgres:$pg_pw@127.0.0.1:$(cat "$base/postgres.port")/postgres"
    [ -f "$base/mariadb.port" ] &&
      echo "export LLANA_TEST_MYSQL_URI=mysql://root:$my_pw@127.0.0.1:$(cat "$base/mariadb.port")/mysql"
    if [ -f "$base/redis.port" ]; then
      echo "export LLANA_TEST_REDIS=127.0.0.1:$(cat "$base/redis.port")"
      echo "export LLANA_TEST_REDIS_SERVER=$(dbs_redis_server)"
    fi
  } >"$base/env.sh"

  if [ -n "$DBS_FAILED" ]; then
    dbs_log "failed to start: $DBS_FAILED (logs under $base)"
    return 1
  fi
  dbs_log "postgres :$(cat "$base/postgres.port"), mariadb :$(cat "$base/mariadb.port"), redis :$(cat "$base/redis.port") ready in $(($(date +%s) - t0))s"
  return 0
}

# Stops everything dbs_start started under DIR, in parallel. Safe to call twice or on a half-started DIR.
dbs_stop() {
  local base="$1"
  [ -d "$base" ] || return 0
  dbs_stop_postgres "$base" &
  local a=$!
  dbs_stop_mariadb "$base" &
  local b=$!
  dbs_stop_redis "$base" &
  local c=$!
  wait "$a" "$b" "$c" 2>/dev/null
  return 0
}

# True when every server recorded under DIR is still running (used by dev-dbs to reuse a running set).
dbs_all_running() {
  local base="$1" pid
  [ -f "$base/env.sh" ] || return 1
  pid="$(head -n 1 "$base/pg/data/postmaster.pid" 2>/dev/null)"
  dbs_pid_alive "$pid" || return 1
  pid="$(head -n 1 "$base/mariadb/mariadb.pid" 2>/dev/null)"
  dbs_pid_alive "$pid" || return 1
  pid="$(head -n 1 "$base/redis/redis.pid" 2>/dev/null)"
  dbs_pid_alive "$pid" || return 1
}

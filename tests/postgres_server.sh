# A throwaway PostgreSQL server for the distributed tests (tests/test_distributed.py), sourced by
# tests/run.sh. `pg_test_server_start` installs PostgreSQL from the OS packages when it is
# missing (`apt-get install -y postgresql`, as root), creates a cluster in a temporary directory,
# starts it on 127.0.0.1 on a free port (trust authentication, local connections only) and
# exports FERROTUNE_TEST_POSTGRES_URL and FERROTUNE_TEST_POSTGRES_BIN (the server's bin
# directory, used by the tests that stop and restart it). `pg_test_server_stop` stops it and
# removes the directory. The caller traps EXIT to call the latter.
#
# Standalone:  source tests/postgres_server.sh && pg_test_server_start && ... && pg_test_server_stop

_pg_bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    echo "$d"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

# Runs a server command as an unprivileged user: PostgreSQL refuses to run as root.
_pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_test_server_start() {
  local bin
  bin=$(_pg_bin_dir)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "PostgreSQL is not installed and this is not root: install the postgresql package" >&2
      return 1
    fi
    echo "    installing PostgreSQL (apt-get install -y postgresql)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(_pg_bin_dir)
    [ -n "$bin" ] || { echo "postgresql installed but initdb not found" >&2; return 1; }
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  PG_TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ferrotune-pg.XXXXXX")
  chmod 755 "$PG_TEST_DIR"
  mkdir -p "$PG_TEST_DIR/data" "$PG_TEST_DIR/run"
  [ "$(id -u)" -ne 0 ] || chown -R postgres: "$PG_TEST_DIR"
  PG_TEST_PORT=$("${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PG_TEST_BIN=$bin
  _pg_as_owner "$bin/initdb" -D "$PG_TEST_DIR/data" -U ferrotune --auth=trust -E UTF8 \
    --no-sync >"$PG_TEST_DIR/initdb.log" 2>&1 || { cat "$PG_TEST_DIR/initdb.log" >&2; return 1; }
  pg_test_server_ctl start || return 1
  _pg_as_owner "$bin/createdb" -h 127.0.0.1 -p "$PG_TEST_PORT" -U ferrotune ferrotune
  export FERROTUNE_TEST_POSTGRES_URL="postgresql+psycopg2://ferrotune@127.0.0.1:$PG_TEST_PORT/ferrotune"
  # For the fault tests: `$FERROTUNE_TEST_POSTGRES_CTL stop|start` stops and restarts the server.
  export FERROTUNE_TEST_POSTGRES_CTL="bash $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/postgres_server.sh"
  export PG_TEST_DIR PG_TEST_PORT PG_TEST_BIN
  echo "    PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_TEST_PORT ($PG_TEST_DIR)"
}

# pg_test_server_ctl start|stop: the server of pg_test_server_start (PG_TEST_* variables).
pg_test_server_ctl() {
  case $1 in
    start)
      _pg_as_owner "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w \
        -o "-h 127.0.0.1 -p $PG_TEST_PORT -k $PG_TEST_DIR/run -c fsync=off -c max_connections=100" \
        start >/dev/null || { cat "$PG_TEST_DIR/server.log" >&2; return 1; }
      ;;
    stop)
      _pg_as_owner "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m fast -w stop >/dev/null
      ;;
    *)
      echo "usage: pg_test_server_ctl start|stop" >&2
      return 2
      ;;
  esac
}

pg_test_server_stop() {
  if [ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR" ]; then
    pg_test_server_ctl stop 2>/dev/null || true
    rm -rf "$PG_TEST_DIR"
    PG_TEST_DIR=
  fi
}

# Executed (not sourced) with start|stop: control the server named by the PG_TEST_* variables.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  pg_test_server_ctl "$@"
fi

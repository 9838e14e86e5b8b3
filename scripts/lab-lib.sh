# shellcheck shell=bash
# Helper functions for scripts/lab (the local HA lab). Sourced, not executed.
#
# Layout of the state dir ($LAB_DIR, default /var/tmp/odoo-ha-watch-lab):
#   lab.env                 resolved ports (written by `up`, read by every later call)
#   run/<svc>.pid           pids of what `up` started: etcd, haproxy, patroni-pg1..3, app1..2
# Names as in the seed: Patroni member pg-node-N (patroni.yml `name`), HAProxy server pgN (haproxy.cfg);
# files and services of node N keep the short pgN.
#   run/walreceiver-pgN.pid walreceiver stopped by `lag N`
#   etcd/                   etcd data + etcd.log
#   pgN/patroni.yml         Patroni config; pgN/data (PGDATA); pgN/log/patroni.log; pgN/pglog/ (PG log)
#   haproxy.cfg, haproxy.log, haproxy.sock
#   appN.log                stand-in Odoo workers

LAB_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=${OHW_LAB_DIR:-/var/tmp/odoo-ha-watch-lab}
PG_BIN=/usr/lib/postgresql/15/bin
SYS_PY=/usr/bin/python3          # never pyenv's python3 (no psycopg2 there)
SCOPE=odoo-cluster
NODES=(1 2 3)
APPS=(1 2)
# Credentials of the lab (local only).
SUPERUSER_PASSWORD=postgres
REPLICATION_PASSWORD=replicator
MONITOR_USER=ohw_monitor
MONITOR_PASSWORD=ohw_monitor
REST_USER=admin
REST_PASSWORD=admin
STATS_USER=admin
STATS_PASSWORD=admin

# ---------------------------------------------------------------- output

die() { echo "lab: error: $*" >&2; exit 1; }
info() { echo "lab: $*" >&2; }
now() { date +%s.%N; }
# elapsed START -> seconds with one decimal
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# ---------------------------------------------------------------- ports

load_ports() {
  if [[ -f $LAB_DIR/lab.env ]]; then
    # shellcheck disable=SC1091
    source "$LAB_DIR/lab.env"
    etcd_ports
    return
  fi
  ETCD_PORT=${OHW_LAB_ETCD_PORT:-12379}
  ETCD_PEER_PORT=${OHW_LAB_ETCD_PEER_PORT:-12380}
  read -r -a REST_PORTS <<<"${OHW_LAB_REST_PORTS:-18008 18009 18010}"
  read -r -a PG_PORTS <<<"${OHW_LAB_PG_PORTS:-15432 15433 15434}"
  read -r -a APP_PORTS <<<"${OHW_LAB_APP_PORTS:-18101 18102}"
  HAP_PRIMARY_PORT=${OHW_LAB_HAPROXY_PRIMARY_PORT:-15000}
  HAP_REPLICAS_PORT=${OHW_LAB_HAPROXY_REPLICAS_PORT:-15001}
  HAP_ODOO_PORT=${OHW_LAB_HAPROXY_ODOO_PORT:-18069}
  HAP_STATS_PORT=${OHW_LAB_HAPROXY_STATS_PORT:-17000}
  [[ ${#REST_PORTS[@]} -eq 3 && ${#PG_PORTS[@]} -eq 3 && ${#APP_PORTS[@]} -eq 2 ]] \
    || die "OHW_LAB_REST_PORTS / OHW_LAB_PG_PORTS need 3 ports, OHW_LAB_APP_PORTS 2"
  etcd_ports
}

# Three etcd members, as in the seed (an odd number keeps a quorum through one failure): member 1 on
# ETCD_PORT/ETCD_PEER_PORT, members 2 and 3 two and four ports above.
etcd_ports() {
  ETCD_PORTS=("$ETCD_PORT" $((ETCD_PORT + 2)) $((ETCD_PORT + 4)))
  ETCD_PEER_PORTS=("$ETCD_PEER_PORT" $((ETCD_PEER_PORT + 2)) $((ETCD_PEER_PORT + 4)))
}

save_ports() {
  cat >"$LAB_DIR/lab.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
REST_PORTS=(${REST_PORTS[*]})
PG_PORTS=(${PG_PORTS[*]})
APP_PORTS=(${APP_PORTS[*]})
HAP_PRIMARY_PORT=$HAP_PRIMARY_PORT
HAP_REPLICAS_PORT=$HAP_REPLICAS_PORT
HAP_ODOO_PORT=$HAP_ODOO_PORT
HAP_STATS_PORT=$HAP_STATS_PORT
EOF
}

all_ports() {
  echo "${ETCD_PORTS[*]} ${ETCD_PEER_PORTS[*]} ${REST_PORTS[*]} ${PG_PORTS[*]} ${APP_PORTS[*]}" \
    "$HAP_PRIMARY_PORT $HAP_REPLICAS_PORT $HAP_ODOO_PORT $HAP_STATS_PORT"
}

rest_port() { echo "${REST_PORTS[$(($1 - 1))]}"; }
pg_port() { echo "${PG_PORTS[$(($1 - 1))]}"; }
app_port() { echo "${APP_PORTS[$(($1 - 1))]}"; }
rest_url() { echo "http://127.0.0.1:$(rest_port "$1")"; }
node_dir() { echo "$LAB_DIR/pg$1"; }
node_cfg() { echo "$LAB_DIR/pg$1/patroni.yml"; }

port_in_use() {
  # listening on 127.0.0.1 or any address?
  if command -v ss >/dev/null; then
    ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

check_node_arg() {
  [[ ${1:-} =~ ^[123]$ ]] || die "expected a node number 1..3, got '${1:-}'"
}
check_app_arg() {
  [[ ${1:-} =~ ^[12]$ ]] || die "expected an app number 1..2, got '${1:-}'"
}

# ---------------------------------------------------------------- packages

ensure_packages() {
  local missing=()
  [[ -x $PG_BIN/postgres && -x $PG_BIN/pg_rewind && -x $PG_BIN/psql ]] || missing+=(postgresql-15)
  [[ -x /usr/bin/patroni && -x /usr/bin/patronictl ]] || missing+=(patroni)
  [[ -x /usr/bin/etcd ]] || missing+=(etcd-server)
  [[ -x /usr/bin/etcdctl ]] || missing+=(etcd-client)
  [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
  [[ -x $SYS_PY ]] && $SYS_PY -c 'import etcd' 2>/dev/null || missing+=(python3-etcd)
  [[ -x $SYS_PY ]] && $SYS_PY -c 'import psycopg2' 2>/dev/null || missing+=(python3-psycopg2)
  command -v setpriv >/dev/null || missing+=(util-linux)
  command -v curl >/dev/null || missing+=(curl)
  command -v jq >/dev/null || missing+=(jq)
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)   # the status page's browser test (headless)
  [[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)   # chart text (resvg uses system fonts)
  command -v node >/dev/null || die "node (20+) is required for the stand-in Odoo apps"
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run as root to install them"
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get"
  info "installing: ${missing[*]} (apt-get; Debian 12)"
  # Debian's packages start their own daemons (etcd on 2379, haproxy, patroni, a PG cluster on 5432)
  # on install. A temporary policy-rc.d keeps them from starting, unless one already exists.
  local policy_added=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_added=1
  fi
  local rc=0
  apt-get update -q || rc=$?
  if [[ $rc -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 patroni etcd-server etcd-client \
      haproxy python3-etcd python3-psycopg2 curl jq util-linux || rc=$?
  fi
  [[ $policy_added -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
  [[ $rc -eq 0 ]] || die "apt-get failed (exit $rc)"
}

# ---------------------------------------------------------------- processes (by recorded pid only)

pid_file() { echo "$LAB_DIR/run/$1.pid"; }

# What the command line of each recorded service must contain (besides $LAB_DIR).
svc_marker() {
  case $1 in
    etcd*) echo /usr/bin/etcd ;;
    haproxy) echo haproxy ;;
    patroni-pg*) echo /usr/bin/patroni ;;
    app*) echo lab-app.mjs ;;
    *) echo "$1" ;;
  esac
}

proc_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }
proc_alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# proc_is PID MARKER...: alive and its cmdline contains $LAB_DIR and every marker
proc_is() {
  local pid=$1 cmd m
  shift
  [[ $pid =~ ^[0-9]+$ ]] && proc_alive "$pid" || return 1
  cmd=$(proc_cmdline "$pid")
  [[ $cmd == *"$LAB_DIR"* ]] || return 1
  for m in "$@"; do [[ $cmd == *"$m"* ]] || return 1; done
}

# svc_pid NAME: print the recorded pid if that process is still ours and alive
svc_pid() {
  local f pid
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  proc_is "$pid" "$(svc_marker "$1")" || return 1
  echo "$pid"
}

# start_bg NAME LOGFILE CMD...: start detached (own session), record the pid.
# In a non-interactive shell a background child is not a process-group leader, so setsid (and env,
# setpriv) exec in place: $! is the pid of the final program.
start_bg() {
  local name=$1 logf=$2 pid
  shift 2
  (cd "$LAB_DIR" && exec setsid "$@" >>"$logf" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$(pid_file "$name")"
  sleep 0.3
  proc_is "$pid" "$(svc_marker "$name")" || {
    tail -n 20 "$logf" >&2 || true
    die "$name failed to start (see $logf)"
  }
}

# stop_pid PID SIG TIMEOUT MARKER...: signal a verified pid, wait until it is gone
stop_pid() {
  local pid=$1 sig=$2 timeout=$3 t0
  shift 3
  proc_is "$pid" "$@" || return 0
  kill -"$sig" "$pid" 2>/dev/null || return 0
  t0=$SECONDS
  while proc_alive "$pid"; do
    ((SECONDS - t0 >= timeout)) && return 1
    sleep 0.2
  done
}

stop_svc() {
  local name=$1 timeout=${2:-20} pid
  pid=$(svc_pid "$name") || { rm -f "$(pid_file "$name")"; return 0; }
  if ! stop_pid "$pid" TERM "$timeout" "$(svc_marker "$name")"; then
    info "$name (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$(pid_file "$name")"
}

# postmaster pid of node N (from postmaster.pid, verified against /proc)
postmaster_pid() {
  local data pid
  data=$(node_dir "$1")/data
  [[ -f $data/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$data/postmaster.pid")
  proc_is "$pid" "$PG_BIN/postgres" "$data" || return 1
  echo "$pid"
}

# the walreceiver of node N: a child of its postmaster whose cmdline says walreceiver
walreceiver_pid() {
  local pm pid
  pm=$(postmaster_pid "$1") || return 1
  for pid in $(ps -o pid= --ppid "$pm"); do
    [[ $(proc_cmdline "$pid") == *walreceiver* ]] && proc_alive "$pid" && { echo "$pid"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------- HTTP / REST / DCS

http_get() { curl -fsS --max-time "${HTTP_TIMEOUT:-2}" "$@"; }

# first /cluster answer from any node (optionally excluding node $1)
cluster_json() {
  local n
  for n in "${NODES[@]}"; do
    [[ $n == "${1:-}" ]] && continue
    http_get "$(rest_url "$n")/cluster" 2>/dev/null && return 0
  done
  return 1
}

# name of the leader (pg-node-N, the seed's patroni.yml naming) according to /cluster; fails if none
leader_name() {
  local name
  name=$(cluster_json "${1:-}" | jq -r '.members[]? | select(.role == "leader") | .name' | head -n 1)
  [[ -n $name ]] || return 1
  echo "$name"
}
leader_node() { local n; n=$(leader_name "${1:-}") || return 1; echo "${n#pg-node-}"; }

# number of replicas streaming from the leader (from the leader's /patroni replication list)
streaming_count() {
  local n
  n=$(leader_node) || { echo 0; return; }
  http_get "$(rest_url "$n")/patroni" 2>/dev/null \
    | jq '[.replication[]? | select(.state == "streaming")] | length' 2>/dev/null || echo 0
}

patronictl_run() {
  local n cfg=""
  for n in "${NODES[@]}"; do [[ -f $(node_cfg "$n") ]] && { cfg=$(node_cfg "$n"); break; }; done
  [[ -n $cfg ]] || die "no Patroni config under $LAB_DIR (is the lab up?)"
  $SYS_PY /usr/bin/patronictl -c "$cfg" "$@"
}

# ---------------------------------------------------------------- HAProxy

# hap_cmd CMD: send one command to the Runtime API socket
hap_cmd() {
  local sock=$LAB_DIR/haproxy.sock
  [[ -S $sock ]] || return 1
  if command -v socat >/dev/null; then
    echo "$1" | socat -t 2 stdio "UNIX-CONNECT:$sock"
  else
    $SYS_PY - "$sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
PY
  fi
}

# hap_servers: "pxname svname status check_status lastchg" for server rows (no FRONTEND/BACKEND)
hap_servers() {
  hap_cmd "show stat" | awk -F, '
    NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
    NF < 10 { next }
    $(col["svname"]) != "FRONTEND" && $(col["svname"]) != "BACKEND" {
      st = $(col["status"]); gsub(/ /, "_", st)
      cs = $(col["check_status"]); gsub(/ /, "_", cs); if (cs == "") cs = "-"
      print $(col["pxname"]), $(col["svname"]), st, cs, $(col["lastchg"])
    }'
}

# hap_count BACKEND STATUS-REGEX
hap_count() { hap_servers | awk -v b="$1" -v re="$2" '$1 == b && $3 ~ re { n++ } END { print n + 0 }'; }

# ---------------------------------------------------------------- waiting

# wait_for TIMEOUT DESCRIPTION CMD...: poll CMD every 0.5 s until it succeeds
wait_for() {
  local timeout=$1 desc=$2 t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - t0 >= timeout)); then
      info "timed out after ${timeout}s waiting for: $desc"
      return 1
    fi
    sleep 0.5
  done
}

cond_etcd_healthy() { local p; for p in "${ETCD_PORTS[@]}"; do http_get "http://127.0.0.1:$p/health" | jq -e '.health == "true"' || return 1; done; }
cond_members() { [[ $(cluster_json | jq '.members | length') -ge $1 ]]; }
cond_has_leader() { leader_name >/dev/null; }
cond_leader_not() { local l; l=$(leader_name "$1") && [[ $l != "pg-node-$1" ]]; }
cond_leader_is_not_name() { local l; l=$(leader_name) && [[ $l != "$1" ]] && cond_leader_running; }
cond_leader_running() {
  local n
  n=$(leader_node) && http_get "$(rest_url "$n")/primary" >/dev/null
}
cond_replicas_streaming() { [[ $(streaming_count) -ge ${1:-2} ]]; }
cond_hap_one_primary() {
  [[ $(hap_count pg_primary '^UP$') -eq 1 && $(hap_count pg_primary '^DOWN$') -eq 2 ]]
}
cond_hap_apps_up() { [[ $(hap_count odoo_workers '^UP$') -eq 2 ]]; }
cond_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- config files

write_patroni_cfg() {
  local n=$1 dir
  dir=$(node_dir "$n")
  cat >"$dir/patroni.yml" <<EOF
# Generated by scripts/lab (odoo-ha-watch HA lab). Shape copied from the seed article's patroni.yml.
scope: $SCOPE
namespace: /service/
name: pg-node-$n

log:
  level: INFO
  dir: $dir/log

restapi:
  listen: 127.0.0.1:$(rest_port "$n")
  connect_address: 127.0.0.1:$(rest_port "$n")
  authentication:            # only mutating calls (POST/PATCH/DELETE) need it; patronictl -c uses it
    username: $REST_USER
    password: $REST_PASSWORD

etcd3:
  hosts:
$(for p in "${ETCD_PORTS[@]}"; do echo "    - 127.0.0.1:$p"; done)

bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_connections: 50
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        wal_sender_timeout: 10min   # keeps a SIGSTOPped walreceiver (lab lag N) connected
        synchronous_commit: "off"   # asynchronous, as in the seed
  initdb:
    - encoding: UTF8
    - data-checksums
  post_bootstrap: $LAB_DIR/post_bootstrap.sh

postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  data_dir: $dir/data
  bin_dir: $PG_BIN
  pgpass: $dir/pgpass
  authentication:
    replication:
      username: replicator
      password: $REPLICATION_PASSWORD
    superuser:
      username: postgres
      password: $SUPERUSER_PASSWORD
  parameters:
    unix_socket_directories: $dir
    shared_buffers: 32MB
    logging_collector: "on"
    log_directory: $dir/pglog
    log_filename: postgresql.log
    log_line_prefix: "%m [%p] %q%u@%d "
  basebackup:
    - checkpoint: fast       # replicas clone in ~1 s instead of waiting for a spread checkpoint
  pg_hba:
    - local all postgres peer
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all postgres 127.0.0.1/32 scram-sha-256
    - host all $MONITOR_USER 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256

watchdog:
  mode: "off"

tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
}

write_post_bootstrap() {
  cat >"$LAB_DIR/post_bootstrap.sh" <<EOF
#!/bin/sh
# Patroni post_bootstrap: runs once on the bootstrapping node, with a superuser DSN as \$1.
set -e
$PG_BIN/psql -X -v ON_ERROR_STOP=1 "\$1" <<'SQL'
CREATE ROLE $MONITOR_USER LOGIN PASSWORD '$MONITOR_PASSWORD';
GRANT pg_monitor TO $MONITOR_USER;
CREATE TABLE public.lab_writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), payload text);
GRANT SELECT ON public.lab_writes TO $MONITOR_USER;
SQL
EOF
  chmod 755 "$LAB_DIR/post_bootstrap.sh"
}

write_haproxy_cfg() {
  local n a
  {
    cat <<EOF
# Generated by scripts/lab (odoo-ha-watch HA lab). Shape copied from the seed article's haproxy.cfg.
global
    log stdout format raw local0 info
    maxconn 1024
    stats socket $LAB_DIR/haproxy.sock mode 660 level admin
    stats timeout 30s

defaults
    log global
    mode tcp
    option dontlognull
    retries 3
    timeout connect 5s
    timeout client 30m
    timeout server 30m
    timeout check 2s

frontend pg_primary_frontend
    mode tcp
    bind 127.0.0.1:$HAP_PRIMARY_PORT
    default_backend pg_primary

backend pg_primary
    mode tcp
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 3s fastinter 1s fall 3 rise 2 on-marked-down shutdown-sessions
EOF
    for n in "${NODES[@]}"; do
      echo "    server pg$n 127.0.0.1:$(pg_port "$n") check port $(rest_port "$n")"
    done
    cat <<EOF

frontend pg_replicas_frontend
    mode tcp
    bind 127.0.0.1:$HAP_REPLICAS_PORT
    default_backend pg_replicas

backend pg_replicas
    mode tcp
    balance roundrobin
    option httpchk GET /replica
    http-check expect status 200
    default-server inter 3s fastinter 1s fall 3 rise 2 on-marked-down shutdown-sessions
EOF
    for n in "${NODES[@]}"; do
      echo "    server pg$n 127.0.0.1:$(pg_port "$n") check port $(rest_port "$n")"
    done
    cat <<EOF

frontend odoo_http
    mode http
    bind 127.0.0.1:$HAP_ODOO_PORT
    option httplog
    timeout client 30s
    default_backend odoo_workers

backend odoo_workers
    mode http
    balance roundrobin
    timeout server 60s
    option httpchk GET /web/health
    http-check expect status 200
EOF
    for a in "${APPS[@]}"; do
      echo "    server odoo$a 127.0.0.1:$(app_port "$a") check inter 2s fall 2 rise 2"
    done
    cat <<EOF

listen stats
    mode http
    bind 127.0.0.1:$HAP_STATS_PORT
    timeout client 30s
    stats enable
    stats uri /stats
    stats refresh 5s
    # Server addresses in the stats (the CSV 'addr' column): odoo-ha-watch matches HAProxy servers
    # (pgN) to Patroni members (pg-node-N) by address. The seed's stats page lacks it (addr empty).
    stats show-legends
    stats auth $STATS_USER:$STATS_PASSWORD
EOF
  } >"$LAB_DIR/haproxy.cfg"
}

# ---------------------------------------------------------------- starting pieces

# Service names etcd, etcd2, etcd3 (member 1 keeps the name older state dirs recorded).
etcd_svc() { [[ $1 -eq 1 ]] && echo etcd || echo "etcd$1"; }

start_etcd() {
  local i
  mkdir -p "$LAB_DIR/etcd"
  for i in 1 2 3; do start_etcd_member "$i"; done
}

# start_etcd_member I: one member; on a restart its data dir already holds the cluster (the
# --initial-* flags are then ignored by etcd).
start_etcd_member() {
  local i=$1 cluster="" j
  for j in 1 2 3; do cluster+="${cluster:+,}lab-etcd$j=http://127.0.0.1:${ETCD_PEER_PORTS[$((j - 1))]}"; done
  start_bg "$(etcd_svc "$i")" "$LAB_DIR/etcd/etcd$i.log" env -i PATH=/usr/bin:/bin /usr/bin/etcd \
    --name "lab-etcd$i" --data-dir "$LAB_DIR/etcd/data$i" \
    --listen-client-urls "http://127.0.0.1:${ETCD_PORTS[$((i - 1))]}" --advertise-client-urls "http://127.0.0.1:${ETCD_PORTS[$((i - 1))]}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$((i - 1))]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$((i - 1))]}" \
    --initial-cluster "$cluster" \
    --initial-cluster-state new --initial-cluster-token odoo-ha-watch-lab \
    --logger zap --log-outputs stderr
}

start_patroni() {
  local n=$1 dir
  dir=$(node_dir "$n")
  start_bg "patroni-pg$n" "$dir/patroni.stdout" env -i PATH=/usr/bin:/bin HOME=/var/lib/postgresql \
    LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    setpriv --reuid postgres --regid postgres --init-groups $SYS_PY /usr/bin/patroni "$dir/patroni.yml"
}

start_app() {
  local a=$1
  start_bg "app$a" "$LAB_DIR/app$a.log" "$(command -v node)" "$LAB_SCRIPTS/lab-app.mjs" \
    --name "odoo$a" --port "$(app_port "$a")" --state "$LAB_DIR"
}

# start_haproxy [OLD_PID]: with OLD_PID, a reload as systemd does it: the new process takes over the
# listeners and tells the old one (-sf) to finish its connections and exit.
start_haproxy() {
  /usr/sbin/haproxy -c -q -f "$LAB_DIR/haproxy.cfg" || die "haproxy config check failed"
  start_bg haproxy "$LAB_DIR/haproxy.log" /usr/sbin/haproxy -db -f "$LAB_DIR/haproxy.cfg" ${1:+-sf "$1"}
}

# signal_tree PID SIG: PID and every descendant (a postmaster and its backends)
signal_tree() {
  local pid=$1 sig=$2 c
  for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do signal_tree "$c" "$sig"; done
  kill -"$sig" "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- summaries

print_env() {
  local n a patroni_urls="" pg_dsns="" app_urls=""
  local p etcd_urls=""
  for p in "${ETCD_PORTS[@]}"; do etcd_urls+="${etcd_urls:+,}http://127.0.0.1:$p"; done
  for n in "${NODES[@]}"; do
    patroni_urls+="${patroni_urls:+,}$(rest_url "$n")"
    pg_dsns+="${pg_dsns:+,}postgres://$MONITOR_USER:$MONITOR_PASSWORD@127.0.0.1:$(pg_port "$n")/postgres"
  done
  for a in "${APPS[@]}"; do app_urls+="${app_urls:+,}http://127.0.0.1:$(app_port "$a")"; done
  cat <<EOF
export OHW_LAB_DIR='$LAB_DIR'
export OHW_LAB_SCOPE='$SCOPE'
export OHW_LAB_ETCD_PORT='$ETCD_PORT'
export OHW_LAB_ETCD_PEER_PORT='$ETCD_PEER_PORT'
export OHW_LAB_REST_PORTS='${REST_PORTS[*]}'
export OHW_LAB_PG_PORTS='${PG_PORTS[*]}'
export OHW_LAB_APP_PORTS='${APP_PORTS[*]}'
export OHW_LAB_HAPROXY_PRIMARY_PORT='$HAP_PRIMARY_PORT'
export OHW_LAB_HAPROXY_REPLICAS_PORT='$HAP_REPLICAS_PORT'
export OHW_LAB_HAPROXY_ODOO_PORT='$HAP_ODOO_PORT'
export OHW_LAB_HAPROXY_STATS_PORT='$HAP_STATS_PORT'
export OHW_LAB_PATRONI_URLS='$patroni_urls'
export OHW_LAB_PATRONI_USER='$REST_USER'
export OHW_LAB_PATRONI_PASSWORD='$REST_PASSWORD'
export OHW_LAB_ETCD_URL='http://127.0.0.1:$ETCD_PORT'
export OHW_LAB_ETCD_URLS='$etcd_urls'
export OHW_LAB_HAPROXY_STATS_URL='http://127.0.0.1:$HAP_STATS_PORT/stats;csv'
export OHW_LAB_HAPROXY_STATS_USER='$STATS_USER'
export OHW_LAB_HAPROXY_STATS_PASSWORD='$STATS_PASSWORD'
export OHW_LAB_HAPROXY_SOCKET='$LAB_DIR/haproxy.sock'
export OHW_LAB_PG_PRIMARY_DSN='postgres://$MONITOR_USER:$MONITOR_PASSWORD@127.0.0.1:$HAP_PRIMARY_PORT/postgres'
export OHW_LAB_PG_REPLICAS_DSN='postgres://$MONITOR_USER:$MONITOR_PASSWORD@127.0.0.1:$HAP_REPLICAS_PORT/postgres'
export OHW_LAB_PG_NODE_DSNS='$pg_dsns'
export OHW_LAB_PG_SUPERUSER_DSN='postgres://postgres:$SUPERUSER_PASSWORD@127.0.0.1:$HAP_PRIMARY_PORT/postgres'
export OHW_LAB_ODOO_URL='http://127.0.0.1:$HAP_ODOO_PORT'
export OHW_LAB_ODOO_APP_URLS='$app_urls'
export OHW_LAB_PATRONI_LOGS='$LAB_DIR/pg1/log/patroni.log,$LAB_DIR/pg2/log/patroni.log,$LAB_DIR/pg3/log/patroni.log'
export OHW_LAB_HAPROXY_LOG='$LAB_DIR/haproxy.log'
EOF
}

print_status() {
  echo "== patronictl list"
  patronictl_run list 2>&1 || true
  echo "== HAProxy servers (pxname svname status check_status lastchg)"
  if [[ -S $LAB_DIR/haproxy.sock ]]; then
    hap_servers 2>/dev/null | column -t || echo "(HAProxy Runtime API not answering)"
  else
    echo "(HAProxy not running)"
  fi
  echo "== processes"
  local s pid
  for s in etcd etcd2 etcd3 patroni-pg1 patroni-pg2 patroni-pg3 haproxy app1 app2; do
    if pid=$(svc_pid "$s"); then printf '%-12s running  pid %s\n' "$s" "$pid"
    else printf '%-12s stopped\n' "$s"; fi
  done
  for s in "${NODES[@]}"; do
    if pid=$(postmaster_pid "$s"); then printf '%-12s running  pid %s\n' "postgres-pg$s" "$pid"
    else printf '%-12s stopped\n' "postgres-pg$s"; fi
  done
}

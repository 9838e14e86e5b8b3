#!/usr/bin/env bash
# Record real fixtures from the HA lab into test/fixtures/lab/ (or $1).
# Usage: scripts/lab down --purge; scripts/lab up; scripts/lab-record.sh [OUTDIR]
# Sequence: steady state -> lagging replica -> odoo app down -> paused -> kill-primary failover ->
# rejoin of the old primary -> switchover. Takes ~3 minutes. Leaves the lab up and healthy.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lab-lib.sh
source "$HERE/lab-lib.sh"
LAB=$HERE/lab
OUT=${1:-$HERE/../test/fixtures/lab}
[[ -f $LAB_DIR/lab.env ]] || die "lab is not up"
load_ports
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

step() { echo "== $*" >&2; }
save() { cat >"$OUT/$1"; echo "   wrote $1" >&2; }
rest() { curl -sS --max-time 3 "$(rest_url "$1")$2"; }   # body as returned, whatever the status
stats_csv() { curl -sS --max-time 3 -u "$STATS_USER:$STATS_PASSWORD" "http://127.0.0.1:$HAP_STATS_PORT/stats;csv"; }
hap_status() { hap_servers | awk -v b="$1" -v s="$2" '$1 == b && $2 == s { print $3 }'; }
replica_nodes_of() { local n; for n in "${NODES[@]}"; do [[ $n != "$1" ]] && echo "$n"; done; return 0; }
replica_nodes() { local l n; l=$(leader_node); for n in "${NODES[@]}"; do [[ $n != "$l" ]] && echo "$n"; done; return 0; }

# Log capture: remember line counts, later copy what was appended (capped at 600 lines; HAProxy GET
# checks make Patroni log ~25-line ConnectionResetError tracebacks several times a minute).
declare -A MARK
mark_logs() {
  local n
  for n in "${NODES[@]}"; do MARK[$n]=$(wc -l <"$(node_dir "$n")/log/patroni.log"); done
  MARK[haproxy]=$(wc -l <"$LAB_DIR/haproxy.log")
}
cut_logs() {   # cut_logs EVENT [MAXLINES]
  local ev=$1 max=${2:-600} n f
  for n in "${NODES[@]}"; do
    f=$(node_dir "$n")/log/patroni.log
    tail -n +"$((MARK[$n] + 1))" "$f" | head -n "$max" | save "patroni-$ev-pg$n.log"
  done
  # HAProxy prints each event twice in -db mode: the "[WARNING]  (pid) : ..." stderr copy and the
  # raw `log stdout` line. Keep both (that is what a log shipper would see on this setup).
  tail -n +"$((MARK[haproxy] + 1))" "$LAB_DIR/haproxy.log" | head -n "$max" | save "haproxy-$ev.log"
}

snapshot_haproxy() {   # snapshot_haproxy SUFFIX
  stats_csv | save "haproxy-stats-$1.csv"
  hap_cmd "show stat" | save "haproxy-show-stat-$1.csv"
}

"$LAB" wait-ready 120 >/dev/null

# ---------------------------------------------------------------- steady state
step "steady state"
L=$(leader_node)
R=$(replica_nodes | head -n 1)
sleep 3
rest "$L" /cluster | save patroni-cluster-steady.json
rest "$L" /patroni | save patroni-patroni-leader.json
rest "$R" /patroni | save patroni-patroni-replica.json
rest "$L" /config | save patroni-config.json
rest "$L" /history | save patroni-history-initial.json
rest "$L" /metrics | save patroni-metrics-leader.txt
rest "$R" /metrics | save patroni-metrics-replica.txt
curl -sS --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" | save etcd-health.json
curl -sS --max-time 3 -X POST -d '{}' "http://127.0.0.1:$ETCD_PORT/v3/maintenance/status" | save etcd-maintenance-status.json
curl -sS --max-time 3 -X POST -d '{}' "http://127.0.0.1:$ETCD_PORT/v3/cluster/member/list" | save etcd-member-list.json
patronictl_run list | save patronictl-list-steady.txt
snapshot_haproxy steady
hap_cmd "show servers state" | save haproxy-show-servers-state-steady.txt
hap_cmd "show info" | save haproxy-show-info.txt

# ---------------------------------------------------------------- lagging replica
step "lagging replica (SIGSTOP walreceiver of pg$R, write 4 MiB)"
"$LAB" lag "$R"
"$LAB" write 4096
ok=0
for _ in $(seq 1 60); do   # Patroni publishes the leader LSN once per loop (<= 10 s)
  body=$(rest "$L" /cluster)
  if jq -e --arg n "pg-node-$R" '.members[] | select(.name == $n) | (.lag | type == "number") and .lag > 1048576' <<<"$body" >/dev/null; then ok=1; break; fi
  sleep 0.5
done
[[ $ok -eq 1 ]] || die "replica pg$R never showed lag > 1 MiB"
printf '%s' "$body" | save patroni-cluster-lagging-replica.json
rest "$R" /patroni | save patroni-patroni-lagging-replica.json
patronictl_run list | save patronictl-list-lagging.txt
curl -sS -o /dev/null -w '%{http_code}\n' "$(rest_url "$R")/replica?lag=1MB" | save patroni-replica-lag-1MB-status.txt
"$LAB" unlag "$R"
"$LAB" wait-ready 60 >/dev/null

# ---------------------------------------------------------------- odoo app down
step "odoo app 1 down"
"$LAB" stop-app 1
for _ in $(seq 1 40); do [[ $(hap_status odoo_workers odoo1) == DOWN ]] && break; sleep 0.25; done
[[ $(hap_status odoo_workers odoo1) == DOWN ]] || die "odoo1 not DOWN in HAProxy"
snapshot_haproxy odoo-down
"$LAB" start-app 1
"$LAB" wait-ready 30 >/dev/null

# ---------------------------------------------------------------- paused
step "paused cluster"
mark_logs
"$LAB" pause >/dev/null
sleep 11   # one HA loop logs with the "PAUSE: " prefix
rest "$L" /cluster | save patroni-cluster-paused.json
rest "$L" /patroni | save patroni-patroni-leader-paused.json
patronictl_run list | save patronictl-list-paused.txt
"$LAB" resume >/dev/null
cut_logs pause
"$LAB" wait-ready 30 >/dev/null

# ---------------------------------------------------------------- kill-primary failover
step "kill-primary failover"
mark_logs
sleep 11   # so every node's log starts with at least one steady HA-loop line
OLD=$("$LAB" kill-primary)
OLDN=${OLD#pg}
t0=$(now)
got_down=0 got_stale=0 got_noleader=0 NEW=""
while (( $(awk -v s="$t0" -v e="$(now)" 'BEGIN { print int(e - s) }') < 60 )); do
  if [[ $got_down -eq 0 && $(hap_count pg_primary '^UP') -eq 0 ]]; then
    snapshot_haproxy failover
    got_down=1
    echo "   pg_primary has 0 UP servers after $(elapsed "$t0")s" >&2
  fi
  for n in "${NODES[@]}"; do
    [[ $n == "$OLDN" ]] && continue
    body=$(HTTP_TIMEOUT=1 http_get "$(rest_url "$n")/cluster" 2>/dev/null) || continue
    # cheap test first: this loop must be fast to catch the ~0.1 s between key expiry and the new lock
    if [[ $body != *'"role": "leader"'* ]]; then
      leader=""
    else
      leader=$(jq -r '.members[] | select(.role == "leader") | .name' <<<"$body" | head -n 1)
    fi
    if [[ $got_down -eq 1 && $got_stale -eq 0 && $leader == "$OLD" ]]; then
      printf '%s' "$body" | save patroni-cluster-failover-stale-leader.json
      got_stale=1
    fi
    if [[ $got_noleader -eq 0 && -z $leader ]]; then
      printf '%s' "$body" | save patroni-cluster-failover-no-leader.json
      got_noleader=1
      echo "   /cluster without a leader after $(elapsed "$t0")s" >&2
    fi
    if [[ -n $leader && $leader != "$OLD" ]]; then NEW=$leader; fi
  done
  [[ -n $NEW ]] && break
  # poll HAProxy only until it marked the old primary down; then poll /cluster as fast as possible
  [[ $got_down -eq 1 ]] || sleep 0.1
done
[[ -n $NEW ]] || die "no new leader within 60 s"
echo "   new leader $NEW after $(elapsed "$t0")s" >&2
[[ $got_noleader -eq 1 ]] || echo "   (no leader-less /cluster seen: the key expired and was taken between polls)" >&2
NEWN=${NEW#pg}
for _ in $(seq 1 40); do [[ $(hap_status pg_primary "$NEW") == UP ]] && break; sleep 0.25; done
echo "   HAProxy routes to $NEW after $(elapsed "$t0")s" >&2
sleep 2
rest "$NEWN" /cluster | save patroni-cluster-after-failover.json
rest "$NEWN" /patroni | save patroni-patroni-new-leader.json
patronictl_run list | save patronictl-list-after-failover.txt
snapshot_haproxy after-failover
cut_logs failover

# ---------------------------------------------------------------- rejoin
step "rejoin of $OLD"
mark_logs
"$LAB" restart-node "$OLDN"
"$LAB" wait-ready 90 >/dev/null
sleep 11   # one more HA loop on every node
rest "$NEWN" /cluster | save patroni-cluster-after-rejoin.json
cut_logs rejoin

# ---------------------------------------------------------------- switchover
step "switchover"
mark_logs
sleep 11
"$LAB" switchover >/dev/null
"$LAB" wait-ready 60 >/dev/null
sleep 11
L=$(leader_node)
rest "$L" /cluster | save patroni-cluster-after-switchover.json
rest "$L" /history | save patroni-history.json
patronictl_run list | save patronictl-list-after-switchover.txt
snapshot_haproxy after-switchover
cut_logs switchover

# ---------------------------------------------------------------- primary dies while paused
step "kill-primary while paused (no failover: the cluster stays leaderless)"
"$LAB" pause >/dev/null
mark_logs
OLD=$("$LAB" kill-primary)
OLDN=${OLD#pg}
ok=0
for _ in $(seq 1 100); do   # the leader key expires after ttl (30 s)
  body=$(cluster_json "$OLDN" || true)
  if [[ -n $body && $body != *'"role": "leader"'* ]]; then ok=1; break; fi
  sleep 0.5
done
[[ $ok -eq 1 ]] || die "leader key never expired while paused"
sleep 11   # one more loop: survivors log "PAUSE: ..." without a leader
cluster_json "$OLDN" | save patroni-cluster-paused-no-leader.json
rest "$(replica_nodes_of "$OLDN" | head -n 1)" /patroni | save patroni-patroni-paused-no-leader.json
patronictl_run list | save patronictl-list-paused-no-leader.txt
snapshot_haproxy paused-no-leader
cut_logs paused-no-leader
"$LAB" restart-node "$OLDN"
"$LAB" resume >/dev/null
"$LAB" wait-ready 120 >/dev/null
step "done; fixtures in $OUT"

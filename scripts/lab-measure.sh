#!/usr/bin/env bash
# Measure the HA lab: kill-primary -> HAProxy marks it DOWN, new leader in /cluster, HAProxy routes
# writes to the new leader; then restart the old node and time its rejoin.
# Usage (lab must be up): scripts/lab-measure.sh [RUNS]   (default 3). Prints a Markdown table.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lab-lib.sh
source "$HERE/lab-lib.sh"
LAB=$HERE/lab
RUNS=${1:-3}
[[ -f $LAB_DIR/lab.env ]] || die "lab is not up"
load_ports

hap_status() { hap_servers | awk -v b="$1" -v s="$2" '$1 == b && $2 == s { print $3 }'; }

echo "| run | old leader | new leader | HAProxy marks old DOWN (s) | new leader in /cluster (s) | pg_primary UP = new leader (s) | old node rejoined as streaming replica after restart (s) |"
echo "|---|---|---|---|---|---|---|"
for run in $(seq 1 "$RUNS"); do
  "$LAB" wait-ready 120 >/dev/null 2>&1 || die "lab not ready before run $run"
  sleep 2
  t0=$(now)
  old=$("$LAB" kill-primary 2>/dev/null)
  oldn=${old#pg-node-}   # Patroni pg-node-N = HAProxy server pgN
  t_down="" t_leader="" t_routed="" new=""
  deadline=$((SECONDS + 90))
  while ((SECONDS < deadline)); do
    if [[ -z $t_down ]] && [[ $(hap_status pg_primary "pg$oldn") == DOWN* ]]; then t_down=$(elapsed "$t0"); fi
    if [[ -z $t_leader ]] && l=$(leader_name "$oldn" 2>/dev/null) && [[ $l != "$old" ]]; then
      t_leader=$(elapsed "$t0"); new=$l
    fi
    if [[ -n $new && -z $t_routed ]] && [[ $(hap_status pg_primary "pg${new#pg-node-}") == UP ]] \
      && [[ $(hap_count pg_primary '^UP') -eq 1 ]]; then t_routed=$(elapsed "$t0"); fi
    [[ -n $t_down && -n $t_leader && -n $t_routed ]] && break
    sleep 0.1
  done
  t1=$(now)
  "$LAB" restart-node "$oldn" >/dev/null 2>&1
  rejoin=""
  deadline=$((SECONDS + 90))
  while ((SECONDS < deadline)); do
    if http_get "$(rest_url "$(leader_node)")/patroni" 2>/dev/null \
      | jq -e --arg n "$old" '[.replication[]? | select(.application_name == $n and .state == "streaming")] | length == 1' >/dev/null; then
      rejoin=$(elapsed "$t1"); break
    fi
    sleep 0.2
  done
  echo "| $run | $old | ${new:-?} | ${t_down:-timeout} | ${t_leader:-timeout} | ${t_routed:-timeout} | ${rejoin:-timeout} |"
done

#!/usr/bin/env bash
# Benchmark (not a test): live sessions, cut when AD says no.
#  1. Detection to Disconnect-ACK: REMOVALS times, tgroup connects through the real strongSwan
#     gateway (deploy/gateway.sh) and stays; the admin removes it from Telework-Allowed; we time
#     from samba-tool's return to the tunnel being gone, and read adgate's own
#     detection_to_result_ms from the disconnect record. Prints p50/p99 of both.
#  2. What watching costs the DC: SESSIONS bench users (bench01…, created in the lab once, in
#     Telework-Allowed) log in with PAP and send Accounting-Start through radclient, so adgate
#     watches SESSIONS live sessions (re-check every 5 s, plus AD change notifications). The DC's
#     CPU (all samba processes, /proc) over 60 s with them, minus 60 s of the same adgate with
#     no session, is the watcher's DC CPU per minute.
#   deploy/bench-sessions.sh [REMOVALS] [SESSIONS]        (defaults: 20 50)
set -euo pipefail
cd "$(dirname "$0")/.."
removals=${1:-20}
sessions=${2:-50}
BENCH_PORT=18140
# The gateway takes Disconnect-Requests on 127.0.0.1:3799, as the lab config's client says.
source deploy/bench-server.sh
in_lab() { ip netns exec "$netns" "$@"; }
export ADGATE_GATEWAY_RADIUS_PORT=$BENCH_PORT ADGATE_GATEWAY_ACCT_PORT=$((BENCH_PORT + 100))
password_file=$(value FIXTURE_PASSWORD_FILE)
secret_file=$(value RADIUS_SECRET_FILE)
trap 'deploy/gateway.sh down >/dev/null 2>&1 || true; deploy/lab.sh tool group addmembers Telework-Allowed tgroup >/dev/null 2>&1 || true; kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
deploy/gateway.sh up >/dev/null
trail=$work/audit/audit.jsonl
now_ms() { echo $(($(date +%s%N) / 1000000)); }
cuts() { grep -c '"type":"disconnect"' "$trail" || true; }

# --- 1. detection to ACK -----------------------------------------------------------------------
: >"$work/latency.txt"
for i in $(seq "$removals"); do
  deploy/gateway.sh connect tgroup "$password_file" >/dev/null
  for _ in $(seq 50); do
    grep -q '"user_name":"tgroup".*"status_type":"start"' <(tail -n 5 "$trail") && break
    sleep 0.1
  done
  before=$(cuts)
  deploy/lab.sh tool group removemembers Telework-Allowed tgroup >/dev/null
  removed=$(now_ms)
  for _ in $(seq 300); do
    deploy/gateway.sh sas | grep -qx tgroup || break
    sleep 0.05
  done
  gone=$(now_ms)
  for _ in $(seq 50); do (($(cuts) > before)) && break; sleep 0.1; done
  adgate_ms=$(grep '"type":"disconnect"' "$trail" | tail -n 1 |
    sed -n 's/.*"detection_to_result_ms":\([0-9]*\).*/\1/p')
  echo "$((gone - removed)) ${adgate_ms:-0}" >>"$work/latency.txt"
  deploy/lab.sh tool group addmembers Telework-Allowed tgroup >/dev/null
  printf '\rremoval %d/%d' "$i" "$removals" >&2
done
echo >&2
deploy/gateway.sh down >/dev/null
percentiles() { # COLUMN NAME
  sort -n -k"$1" "$work/latency.txt" | awk -v c="$1" -v name="$2" '
    { v[NR] = $c } END {
      p50 = v[int((NR + 1) / 2)]; p99 = v[int(NR * 0.99 + 0.999)]
      printf "%-44s p50 %6d ms   p99 %6d ms   (n=%d)\n", name, p50, p99, NR }'
}
percentiles 1 "removal (samba-tool returned) to tunnel gone"
percentiles 2 "adgate: detection to Disconnect-ACK"

# --- 2. DC CPU of watching SESSIONS live sessions ------------------------------------------------
samba_pids() { ip netns pids "$netns" | while read -r pid; do
  case $(readlink "/proc/$pid/exe" 2>/dev/null) in
    /usr/sbin/samba | /usr/sbin/smbd | /usr/sbin/winbindd) echo "$pid" ;;
  esac
done; }
dc_cpu_ms_over() { # SECONDS → DC CPU milliseconds spent meanwhile
  local before after
  before=$(cpu_ticks $(samba_pids))
  sleep "$1"
  after=$(cpu_ticks $(samba_pids))
  echo $(((after - before) * 1000 / ticks))
}
idle_ms=$(dc_cpu_ms_over 60)
existing=$(deploy/lab.sh tool user list)
for n in $(seq -w 1 "$sessions"); do
  user=bench$n
  if ! grep -qx "$user" <<<"$existing"; then
    deploy/lab.sh tool user create "$user" "$(<"$password_file")" >/dev/null
    deploy/lab.sh tool group addmembers Telework-Allowed "$user" >/dev/null
  fi
  printf 'User-Name = "%s"\nUser-Password = "%s"\nNAS-Identifier = "bench"\nMessage-Authenticator = 0x00\n' \
    "$user" "$(<"$password_file")" |
    in_lab radclient -r 1 -t 5 -S "$secret_file" "127.0.0.1:$BENCH_PORT" auth >/dev/null
  printf 'User-Name = "%s"\nAcct-Status-Type = Start\nAcct-Session-Id = "bench-%s"\nNAS-Identifier = "bench"\n' \
    "$user" "$n" |
    in_lab radclient -r 1 -t 5 -S "$secret_file" "127.0.0.1:$((BENCH_PORT + 100))" acct >/dev/null
done
live=$(in_lab "$adgate" sessions list --config "$work/adgate.toml" | tail -n 1)
sleep 10 # the first re-checks and notifications settle
watching_ms=$(dc_cpu_ms_over 60)
echo "live sessions watched:                       $live"
echo "DC CPU per minute, idle adgate:              $idle_ms ms"
echo "DC CPU per minute, $sessions live sessions:         $watching_ms ms"
echo "DC CPU per minute spent by the watcher:      $((watching_ms - idle_ms)) ms"

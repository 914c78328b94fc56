#!/usr/bin/env bash
# make bench: the benchmarks, each printing its figures (not timed tests).
#   tests/harness/bench.sh              every part
#   tests/harness/bench.sh standalone   one plain server on a fresh systemd host, deployed twice by
#                                       site.yml and twice by the server role alone: both times and
#                                       what each second run changed
#   tests/harness/bench.sh cluster      converge times on fresh systemd hosts:
#                                        - a plain 3-server cluster from the server role alone
#                                          (bench_plain_cluster.yml: no TLS, no operator mode, no
#                                          account server: the settings a plain role would have),
#                                          first and second converge;
#                                        - the full stack (cluster of 3, REGION1 and the account
#                                          host, operator mode, TLS on every listener), first and
#                                          second converge;
#                                        - plain clusters of 1, 3 and 5 servers, first converge.
#                                       Reference figures from the same kind of machine (pipelining
#                                       on, forks 5): oukooveu/ansible-role-nats-cluster took 15.6 s
#                                       first and 13.3 s on a re-run of 3 servers; the targets are
#                                       at most 0.7x and 0.35x of that.
#   tests/harness/bench.sh acs          the account server: GET throughput and p99 beside nginx
#                                       (wrk), push-to-applied latency
# Second converges (the median of three) must change nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_FORKS=5
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(standalone cluster acs)
prefix=cmsgs-bench
dir=$(mktemp -d)
export NETWORK=cmsgs-bench

remove_all() {
  for name in $(docker ps -a --format '{{.Names}}' | grep "^$prefix-" || true); do
    tests/harness/systemd-host.sh remove "$name"
  done
}
trap 'remove_all; docker network rm "$NETWORK" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

# rerun INVENTORY [PLAYBOOK]: three second converges; sets seconds to their
# median (a shared machine varies by half a second from run to run) and
# changed to the largest total of the three.
rerun() {
  local runs=() most=0
  for _ in 1 2 3; do
    converge "$@"
    runs+=("$seconds")
    [ "$changed" -gt "$most" ] && most=$changed
  done
  seconds=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
  changed=$most
}

# converge INVENTORY [PLAYBOOK]: sets seconds and changed (summed over the recap).
converge() {
  local start end log
  log=$(mktemp)
  start=$(date +%s.%N)
  ansible-playbook -i "$1" "${2:-site.yml}" > "$log" || { tail -n 40 "$log"; exit 1; }
  end=$(date +%s.%N)
  seconds=$(python -c "print(round($end - $start, 2))")
  changed=$(grep -Eo 'changed=[0-9]+' "$log" | cut -d= -f2 | python -c 'import sys; print(sum(int(n) for n in sys.stdin))')
  rm -f "$log"
}

# fresh TOPOLOGY [options...]: new hosts and their inventory in $inventory.
fresh() {
  remove_all
  local out="$dir/$RANDOM"
  mapfile -t names < <(python tests/harness/demo_inventory.py "$1" "$prefix" "$out" "${@:2}")
  for name in "${names[@]}"; do tests/harness/systemd-host.sh start "$name" >/dev/null; done
  inventory="$out/hosts.yml"
}

bench_standalone() {
  fresh cluster --plain --servers 1
  converge "$inventory"; local first=$seconds
  rerun "$inventory"; local second=$seconds second_changed=$changed
  # The server role alone on a fresh host: what a plain role's re-run does,
  # without site.yml's checks, certificate, REGION1, ACS and verify plays.
  fresh cluster --plain --servers 1
  converge "$inventory" tests/harness/bench_plain_cluster.yml; local role_first=$seconds
  rerun "$inventory" tests/harness/bench_plain_cluster.yml; local role_second=$seconds role_changed=$changed
  printf 'standalone benchmark (one plain server; second: the median of three re-runs)\n'
  printf '  site.yml:              first %6.2f s  second %6.2f s  (changed=%s)\n' "$first" "$second" "$second_changed"
  printf '  the server role alone: first %6.2f s  second %6.2f s  (changed=%s)\n' "$role_first" "$role_second" "$role_changed"
  remove_all
  [ "$second_changed" -eq 0 ] && [ "$role_changed" -eq 0 ]
}

bench_cluster() {
  local plain=tests/harness/bench_plain_cluster.yml
  fresh cluster --plain
  converge "$inventory" "$plain"; local plain_first=$seconds
  rerun "$inventory" "$plain"; local plain_second=$seconds plain_changed=$changed

  fresh cluster
  converge "$inventory"; local stack_first=$seconds
  rerun "$inventory"; local stack_second=$seconds stack_changed=$changed

  declare -A growth
  for servers in 1 3 5; do
    fresh cluster --plain --servers "$servers"
    converge "$inventory" "$plain"; growth[$servers]=$seconds
  done
  remove_all

  printf 'converge seconds (forks 5, pipelining on; second: the median of three re-runs)\n'
  printf '  plain cluster of 3:  first %6.2f  second %6.2f  (changed=%s)  vs 15.6/13.3: %.2fx / %.2fx (targets 0.70x / 0.35x)\n' \
    "$plain_first" "$plain_second" "$plain_changed" \
    "$(python -c "print($plain_first / 15.6)")" "$(python -c "print($plain_second / 13.3)")"
  printf '  full stack, 3 + ACS: first %6.2f  second %6.2f  (changed=%s)\n' "$stack_first" "$stack_second" "$stack_changed"
  printf '  plain, first converge: 1 server %.2f, 3 servers %.2f, 5 servers %.2f; each server past the first adds %.2f s\n' \
    "${growth[1]}" "${growth[3]}" "${growth[5]}" "$(python -c "print((${growth[5]} - ${growth[1]}) / 4)")"
  [ "$plain_changed" -eq 0 ] && [ "$stack_changed" -eq 0 ]
}

bench_acs() {
  # wrk (the load generator) and nginx (the static-file reference) come from Debian.
  if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
  fi
  PYTHONPATH="$PWD/collections" python tests/harness/acs_bench.py
}

for part in "${parts[@]}"; do
  case "$part" in
    standalone) bench_standalone ;;
    cluster) bench_cluster ;;
    acs) bench_acs ;;
    *) echo "bench.sh: unknown part '$part' (standalone, cluster, acs)" >&2; exit 2 ;;
  esac
done

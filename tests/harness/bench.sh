#!/usr/bin/env bash
# make bench: converge times on fresh systemd hosts, printed as figures.
#  - a plain 3-server cluster (no TLS, no operator mode, no account server:
#    the settings a plain role would have), first and second converge;
#  - the full stack (cluster of 3, REGION1 and the account host, operator
#    mode, TLS on every listener), first and second converge;
#  - plain clusters of 1, 3 and 5 servers, first converge, to show how the
#    cost grows with each server.
# The second converges must change nothing. Reference figures from the same
# kind of machine (pipelining on, forks 5): oukooveu/ansible-role-nats-cluster
# took 15.6 s first and 13.3 s on a re-run of 3 servers; the targets are at most
# 0.7x and 0.35x of that.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_FORKS=5
prefix=cmsgs-bench
dir=$(mktemp -d)
export NETWORK=cmsgs-bench

remove_all() {
  for name in $(docker ps -a --format '{{.Names}}' | grep "^$prefix-" || true); do
    tests/harness/systemd-host.sh remove "$name"
  done
}
trap 'remove_all; docker network rm "$NETWORK" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

# converge INVENTORY: sets seconds and changed (of the whole recap).
converge() {
  local start end log
  log=$(mktemp)
  start=$(date +%s.%N)
  ansible-playbook -i "$1" site.yml > "$log" || { tail -n 40 "$log"; exit 1; }
  end=$(date +%s.%N)
  seconds=$(python -c "print(round($end - $start, 2))")
  changed=$(grep -Eo 'changed=[0-9]+' "$log" | cut -d= -f2 | paste -sd+ | bc)
  rm -f "$log"
}

# fresh TOPOLOGY [options...]: new hosts and their inventory in $dir/<n>/hosts.yml.
fresh() {
  remove_all
  local out="$dir/$RANDOM"
  mapfile -t names < <(python tests/harness/demo_inventory.py "$1" "$prefix" "$out" "${@:2}")
  for name in "${names[@]}"; do tests/harness/systemd-host.sh start "$name" >/dev/null; done
  inventory="$out/hosts.yml"
}

fresh cluster --plain
converge "$inventory"; plain_first=$seconds
converge "$inventory"; plain_second=$seconds; plain_changed=$changed

fresh cluster
converge "$inventory"; stack_first=$seconds
converge "$inventory"; stack_second=$seconds; stack_changed=$changed

declare -A growth
for servers in 1 3 5; do
  fresh cluster --plain --servers "$servers"
  converge "$inventory"; growth[$servers]=$seconds
done

printf 'converge seconds (forks 5, pipelining on)\n'
printf '  plain cluster of 3:  first %6.2f  second %6.2f  (changed=%s)  vs 15.6/13.3: %.2fx / %.2fx (targets 0.70x / 0.35x)\n' \
  "$plain_first" "$plain_second" "$plain_changed" \
  "$(python -c "print($plain_first / 15.6)")" "$(python -c "print($plain_second / 13.3)")"
printf '  full stack, 3 + ACS: first %6.2f  second %6.2f  (changed=%s)\n' "$stack_first" "$stack_second" "$stack_changed"
printf '  plain, first converge: 1 server %.2f, 3 servers %.2f, 5 servers %.2f; each server past the first adds %.2f s\n' \
  "${growth[1]}" "${growth[3]}" "${growth[5]}" "$(python -c "print((${growth[5]} - ${growth[1]}) / 4)")"
[ "$plain_changed" -eq 0 ] && [ "$stack_changed" -eq 0 ]

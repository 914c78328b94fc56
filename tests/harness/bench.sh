#!/usr/bin/env bash
# make bench: deploy the standalone scenario on a fresh systemd host, twice,
# and print the two wall-clock times and what the second run changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
host=cmsgs-nats-bench
inventory=$(mktemp --suffix=.yml)
trap 'tests/harness/systemd-host.sh remove "$host"; rm -f "$inventory"' EXIT

tests/harness/systemd-host.sh remove "$host"
tests/harness/systemd-host.sh start "$host" >/dev/null
# The demo inventory, pointed at the bench host.
sed "s/cmsgs-nats-demo:/$host:/" inventories/demo/hosts.yml > "$inventory"

converge() {
  local start end log
  log=$(mktemp)
  start=$(date +%s.%N)
  ansible-playbook -i "$inventory" site.yml > "$log"
  end=$(date +%s.%N)
  seconds=$(python -c "print($end - $start)")
  changed=$(grep -Eo 'changed=[0-9]+' "$log" | tail -n 1 | cut -d= -f2)
  rm -f "$log"
}

converge; first=$seconds
converge; second=$seconds; second_changed=$changed
printf 'standalone benchmark (one host)\n'
printf '  first converge:   %.2f s\n' "$first"
printf '  second converge:  %.2f s\n' "$second"
printf '  changed tasks on the second run: %s\n' "$second_changed"
[ "$second_changed" -eq 0 ]

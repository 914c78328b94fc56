#!/usr/bin/env bash
# make bench: the benchmarks, each printing its figures.
#   tests/harness/bench.sh              every part
#   tests/harness/bench.sh standalone   deploy the standalone scenario on a fresh
#                                       systemd host twice: wall-clock times and
#                                       what the second run changed
#   tests/harness/bench.sh acs          the account server: GET throughput and p99
#                                       beside nginx (wrk), push-to-applied latency
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(standalone acs)

bench_standalone() {
  local host=cmsgs-nats-bench inventory
  inventory=$(mktemp --suffix=.yml)
  trap 'tests/harness/systemd-host.sh remove "'"$host"'"; rm -f "'"$inventory"'"' RETURN

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
    acs) bench_acs ;;
    *) echo "bench.sh: unknown part '$part' (standalone, acs)" >&2; exit 2 ;;
  esac
done

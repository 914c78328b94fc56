#!/usr/bin/env bash
# Start (or remove) one systemd test host from the harness image, with the
# settings systemd needs as PID 1 in an unprivileged container. The molecule
# scenarios set the same keys in their platform entries.
#   systemd-host.sh start NAME   -> prints the host's address
#   systemd-host.sh remove NAME
# NETWORK names a user-defined docker network to join (created when missing),
# where the hosts reach each other by name.
set -euo pipefail

action=${1:?usage: systemd-host.sh start|remove NAME}
name=${2:?usage: systemd-host.sh start|remove NAME}
image="${MOLECULE_IMAGE:-cmsgs-nats-test:bookworm}"

case "$action" in
  start)
    if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != "true" ]; then
      docker rm -f "$name" >/dev/null 2>&1 || true
      network=()
      if [ -n "${NETWORK:-}" ]; then
        docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK" >/dev/null
        network=(--network "$NETWORK")
      fi
      docker run -d --name "$name" --hostname "$name" "${network[@]}" \
        --cap-add SYS_ADMIN --security-opt seccomp=unconfined --cgroupns=host \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
        "$image" /lib/systemd/systemd >/dev/null
    fi
    # systemd is up when it answers; "degraded" still means it is running.
    for _ in $(seq 1 60); do
      state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      sleep 0.5
    done
    docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name"
    ;;
  remove)
    docker rm -f "$name" >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: systemd-host.sh start|remove NAME" >&2
    exit 2
    ;;
esac

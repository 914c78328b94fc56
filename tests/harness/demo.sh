#!/usr/bin/env bash
# make demo: one systemd host, deployed through site.yml, then a real message
# sent through it from this machine.   demo.sh destroy  removes the host.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
host=cmsgs-nats-demo

if [ "${1:-}" = destroy ]; then
  tests/harness/systemd-host.sh remove "$host"
  echo "Removed $host."
  exit 0
fi

address=$(tests/harness/systemd-host.sh start "$host")
ansible-playbook -i inventories/demo/hosts.yml site.yml
python tests/harness/roundtrip.py "nats://$address:4222"
cat <<MSG

NATS is running in the container $host (Debian 12, systemd, user cmsgs).
  Connect:   nats://$address:4222
  Try it:    .venv/bin/python tests/harness/roundtrip.py nats://$address:4222 "your message"
  Inspect:   docker exec $host systemctl status nats-server
             docker exec $host cat /etc/nats-server/nats-server.conf
  Re-deploy: .venv/bin/ansible-playbook -i inventories/demo/hosts.yml site.yml
  Remove:    make demo-destroy
MSG

#!/usr/bin/env bash
# make demo [TOPOLOGY=standalone|cluster|hypercluster]: the stack on local
# systemd containers through site.yml (REGION1 and the account host, operator
# mode, TLS on every listener), then a real message sent with a user's
# credentials, and how to connect.   demo.sh destroy  removes the hosts.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
topology=${TOPOLOGY:-standalone}
prefix=cmsgs-demo
dir=.cache/demo
export NETWORK=cmsgs-demo

remove_all() {
  for name in $(docker ps -a --format '{{.Names}}' | grep "^$prefix-" || true); do
    tests/harness/systemd-host.sh remove "$name"
  done
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
}

if [ "${1:-}" = destroy ]; then
  remove_all
  rm -rf "$dir"
  echo "Removed the demo hosts."
  exit 0
fi

case "$topology" in standalone|cluster|hypercluster) ;; *)
  echo "TOPOLOGY must be standalone, cluster or hypercluster, not '$topology'" >&2; exit 2 ;;
esac
# One topology at a time: hosts of another one would stay in the way.
if [ -f "$dir/topology" ] && [ "$(cat "$dir/topology")" != "$topology" ]; then remove_all; rm -rf "$dir"; fi
mkdir -p "$dir" && echo "$topology" > "$dir/topology"
mapfile -t names < <(python tests/harness/demo_inventory.py "$topology" "$prefix" "$dir")
for name in "${names[@]}"; do tests/harness/systemd-host.sh start "$name" >/dev/null; done

ansible-playbook -i "$dir/hosts.yml" site.yml
ansible-playbook -i "$dir/hosts.yml" tests/harness/demo_account.yml

acs=${names[0]}
first=${names[1]}
last=${names[-1]}
address() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
docker exec "$acs" cat /srv/nsc/keys/creds/REGION1/DEMO/demo.creds > "$dir/demo.creds"
docker exec "$acs" cat /srv/nsc/stores/REGION1/accounts/DEMO/DEMO.jwt > "$dir/DEMO.jwt"
docker exec "$acs" cat /srv/ncred/creds/sys.creds > "$dir/sys.creds"
chmod 600 "$dir"/*.creds
cp "$dir/pki/client/ca.pem" "$dir/ca.pem"
url="tls://$(address "$first"):4222"
to="tls://$(address "$last"):4222"
python tests/harness/roundtrip.py "$url" "hello from cmsgs.nats" --to "$to" --ca "$dir/ca.pem" \
  --push-account "$dir/DEMO.jwt" --sys-creds "$dir/sys.creds" --creds "$dir/demo.creds"
cat <<MSG

The $topology stack runs in the containers ${names[*]}
(Debian 12, systemd): REGION1 on $acs, operator mode, TLS on every listener.
  Connect:   $url   with the user creds $dir/demo.creds and the CA $dir/ca.pem
  Try it:    .venv/bin/python tests/harness/roundtrip.py $url "your message" --to $to --ca $dir/ca.pem --creds $dir/demo.creds
  Refused:   .venv/bin/python tests/harness/roundtrip.py $url --ca $dir/ca.pem        (no creds)
  Inspect:   docker exec $first systemctl status nats-server
             docker exec $first cat /etc/nats-server/nats-server.conf
  Re-deploy: .venv/bin/ansible-playbook -i $dir/hosts.yml site.yml
  Remove:    make demo-destroy
MSG

#!/usr/bin/env bash
# The lowest ansible-core the collection declares (meta/runtime.yml), with the
# lowest community.crypto galaxy.yml declares, in a venv of its own under
# .cache: the unit tests, then molecule converges of the standalone scenario
# whose ansible-playbook is that version's (plain, then with client TLS twice).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
venv=.cache/compat-venv
requirements=tests/compat/requirements-lowest.txt
crypto_lowest=$(sed -n 's/^ *community.crypto: *">=\([0-9.]*\)".*/\1/p' galaxy.yml)

# The ansible package release that carries community.crypto VERSION.
crypto_carrier() {
  case "$1" in
    2.10.0) echo 7.2.0 ;;
    *) echo "compat.sh: no ansible package known to carry community.crypto $1 (galaxy.yml)" >&2; exit 1 ;;
  esac
}

if [ ! -f "$venv/.installed" ] || [ "$requirements" -nt "$venv/.installed" ] || [ "$0" -nt "$venv/.installed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  # community.crypto at the lowest version galaxy.yml declares, in place of the
  # one the ansible package carries: 2.10.0 is in the ansible 7.2.0 package.
  wheels=$(mktemp -d)
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps "ansible==$(crypto_carrier "$crypto_lowest")" -d "$wheels"
  site=$("$venv/bin/python" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))')
  rm -rf "$site/ansible_collections/community/crypto" "$site"/ansible_collections/community.crypto-*.info
  "$venv/bin/python" -m zipfile -e "$wheels"/ansible-*.whl "$wheels/unpacked"
  cp -a "$wheels/unpacked/ansible_collections/community/crypto" "$site/ansible_collections/community/crypto"
  rm -rf "$wheels"
  touch "$venv/.installed"
fi
version=$("$venv/bin/python" -c 'import ansible.release; print(ansible.release.__version__)')
lowest=$(sed -n 's/^requires_ansible: *">=\([0-9.]*\),.*/\1/p' meta/runtime.yml)
case "$version" in
  "${lowest%.*}".*) ;;
  *) echo "compat venv has ansible-core $version, meta/runtime.yml declares $lowest as the lowest" >&2; exit 1 ;;
esac
crypto=$("$venv/bin/ansible-galaxy" collection list community.crypto --format json \
  | "$venv/bin/python" -c 'import json, sys; print(" ".join(sorted({c["version"] for p in json.load(sys.stdin).values() for c in p.values()})))')
if [ "$crypto" != "$crypto_lowest" ]; then
  echo "compat venv finds community.crypto '$crypto', galaxy.yml declares $crypto_lowest as the lowest" >&2
  exit 1
fi
echo "ansible-core $version, community.crypto $crypto: unit tests"
# tests/unit/acs are the account server's own (a service of its own, no ansible-core in it).
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit --ignore=tests/unit/acs

echo "ansible-core $version: molecule converge of the standalone scenario"
# molecule from the main venv; ansible-playbook (and its modules) from this one.
PATH="$top/$venv/bin:$top/.venv/bin:$PATH"
export PATH
lock=/tmp/cmsgs-molecule-standalone.lock
pki_parent=$(mktemp -d)
pki=$pki_parent/pki
export pki
trap 'flock "$lock" "$top/.venv/bin/molecule" destroy -s standalone >/dev/null 2>&1 || true; rm -rf "$pki_parent"' EXIT
flock "$lock" bash -c '
  set -euo pipefail
  molecule destroy -s standalone >/dev/null
  molecule converge -s standalone
  ansible-playbook --version | sed -n 1p
  # Client TLS: tls_certs issues the certificates with community.crypto; a second
  # run must change nothing.
  tls="{\"nats_server_client_tls\": true, \"tls_certs_mode\": \"generate\", \"tls_certs_pki_dir\": \"$pki\"}"
  molecule converge -s standalone -- --extra-vars "$tls"
  molecule converge -s standalone -- --extra-vars "$tls" 2>&1 | tee "$pki.log"
  changes=$(sed "s/\x1b\[[0-9;]*m//g" "$pki.log" | grep -Eo "changed=[0-9]+" | sort -u | tr "\n" " ")
  if [ "$changes" != "changed=0 " ]; then echo "the second TLS converge changed something: $changes" >&2; exit 1; fi
'

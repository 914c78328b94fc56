#!/usr/bin/env bash
# Build the execution environment image from execution-environment.yml and run
# a job inside it as AWX does (ansible-runner in the image, the private data
# dir mounted at /runner). No registry and no Galaxy are reachable from the
# test machines, so:
#   - the base image is made here: the harness's Debian 12 host image, plus pip
#     and this machine's CA bundle (through which containers reach PyPI);
#   - the collections come from files: the tarball built from this tree, and
#     community.crypto and community.docker copied from the .venv's `ansible`.
# The image's Python needs (nkeys, PyNaCl, cryptography) are what
# ansible-builder introspects from meta/execution-environment.yml.
#   ee-build.sh            build, then deploy the standalone topology from inside it
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/.venv/bin"
base=cmsgs-nats-ee-base:bookworm
image=cmsgs-nats-ee:test
host=cmsgs-ee-1

work=$(mktemp -d)
cleanup() { "$top/tests/harness/systemd-host.sh" remove "$host"; rm -rf "$work"; }
trap cleanup EXIT

if ! docker image inspect "$base" >/dev/null 2>&1; then
  mkdir "$work/base"
  cp /etc/ssl/certs/ca-certificates.crt "$work/base/"
  cat > "$work/base/Containerfile" <<'CONTAINERFILE'
FROM cmsgs-nats-test:bookworm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip python3-venv >/dev/null \
    && rm -rf /var/lib/apt/lists/*
CONTAINERFILE
  docker build -q -f "$work/base/Containerfile" -t "$base" "$work/base"
fi

# The definition of the repository, with the local base and the collections as files.
"$top/tests/harness/fresh-clone.sh" "$work/project"
"$bin/ansible-galaxy" collection build --output-path "$work/files" "$work/project" >/dev/null
site="$("$bin/python" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))')/ansible_collections"
cp -r "$site/community/crypto" "$work/files/community.crypto"
cp -r "$site/community/docker" "$work/files/community.docker"
"$bin/python" - "$work" <<'PY'
import glob, os, sys, yaml
work = sys.argv[1]
definition = yaml.safe_load(open(os.path.join(work, "project", "execution-environment.yml")))
definition["images"]["base_image"]["name"] = "cmsgs-nats-ee-base:bookworm"
definition["dependencies"]["python_interpreter"] = {"python_path": "/usr/bin/python3"}
definition["dependencies"]["galaxy"] = {"collections": [
    {"name": "files/" + os.path.basename(glob.glob(os.path.join(work, "files", "cmsgs-nats-*.tar.gz"))[0]), "type": "file"},
    {"name": "files/community.crypto", "type": "dir"},
    {"name": "files/community.docker", "type": "dir"},
]}
definition["additional_build_files"] = [{"src": os.path.join(work, "files"), "dest": "."}]
definition.setdefault("options", {})["package_manager_path"] = "/usr/bin/apt-get"
definition["build_arg_defaults"] = {"ANSIBLE_GALAXY_CLI_COLLECTION_OPTS": "--offline --no-deps",
                                    "PKGMGR_PRESERVE_CACHE": "always"}
yaml.safe_dump(definition, open(os.path.join(work, "execution-environment.yml"), "w"))
PY
(cd "$work" && "$bin/ansible-builder" build --container-runtime docker -f execution-environment.yml \
   -c "$work/context" -t "$image" -v 2)

docker run --rm "$image" sh -c 'ansible --version | head -1; ansible-runner --version;
  python3 -c "import nkeys, nacl, cryptography; print(\"nkeys\", nkeys.__version__ if hasattr(nkeys, \"__version__\") else \"ok\")";
  ansible-galaxy collection list 2>/dev/null | grep -E "cmsgs.nats|community.crypto"'

# A job inside the image: the standalone topology on a systemd host, reached with
# the docker connection through this machine's docker socket.
"$top/tests/harness/systemd-host.sh" remove "$host"
address=$("$top/tests/harness/systemd-host.sh" start "$host")
mkdir -p "$work/runner/inventory" "$work/runner/env" "$work/runner/project"
printf -- '---\n- name: The stack from the collection in the image\n  ansible.builtin.import_playbook: cmsgs.nats.site\n' \
  > "$work/runner/project/site.yml"
cp "$top/.venv/bin/nats-server" "$work/runner/nats-server"
cat > "$work/runner/inventory/hosts.yml" <<INVENTORY
all:
  vars:
    nats_stack_insecure_no_client_auth: true
  children:
    nats_servers:
      hosts:
        $host:
          ansible_connection: community.docker.docker
          ansible_python_interpreter: /usr/bin/python3
          ansible_become: false
          nats_server_install_method: local
          nats_server_local_binary: /runner/nats-server
INVENTORY
echo '{"nats_server_jetstream_enabled": "false", "nats_server_port": "4222"}' > "$work/runner/env/extravars"
# AWX runs the image with its own user on a writable /runner; root here owns the folder.
docker run --rm --user 0 -v "$work/runner:/runner" -v /var/run/docker.sock:/var/run/docker.sock \
  -v "$(command -v docker):/usr/bin/docker:ro" "$image" \
  ansible-runner run /runner -p site.yml --ident ee
[ "$(cat "$work/runner/artifacts/ee/status")" = successful ]
[ "$(docker exec "$host" systemctl is-active nats-server)" = active ]
"$bin/python" "$top/tests/harness/roundtrip.py" "nats://$address:4222" "from the execution environment"

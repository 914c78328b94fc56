#!/usr/bin/env bash
# Build the execution environment of execution-environment.yml with
# ansible-builder on a machine that reaches no container registry and no Galaxy:
#   build-ee.sh [TAG]   (default cmsgs-nats-ee:local; EE_BASE_TAG names the base)
# What the definition takes from elsewhere is made here instead, and nothing else
# changes:
#  - the base image: the harness's Debian 12 image with Python in a venv
#    (/opt/ee), so that pip may install into it (Debian's own Python refuses,
#    PEP 668), apt behind the package-manager interface ansible-builder drives
#    (install -y PACKAGES, clean all), and this machine's CA bundle for PyPI;
#  - the collections: cmsgs.nats built from a fresh clone of this tree, and
#    community.crypto packed from the copy the venv's `ansible` package carries,
#    both as tarballs in the build context instead of Galaxy names.
# The Python and system packages still come from the collection's
# meta/execution-environment.yml by introspection, as for any user.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tag=${1:-cmsgs-nats-ee:local}
base=${EE_BASE_TAG:-cmsgs-nats-ee-base:bookworm}
bin="$top/.venv/bin"
"$top/tests/harness/ensure-docker.sh"
"$top/tests/harness/build-image.sh"
host_image="${MOLECULE_IMAGE:-cmsgs-nats-test:bookworm}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- The base image -------------------------------------------------------------
mkdir -p "$work/base"
cp /etc/ssl/certs/ca-certificates.crt "$work/base/ca-certificates.crt"
cat > "$work/base/pkgmgr" <<'PKGMGR'
#!/bin/sh
# apt behind the two calls ansible-builder's scripts make of dnf:
# `install [-y] [options] PACKAGES` and `clean all`.
set -eu
action=$1; shift
case "$action" in
  install)
    # What is installed already (the base has tar, gzip, python3) needs no index.
    missing=""
    for package in "$@"; do
      case "$package" in -*) continue ;; esac
      dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $package"
    done
    [ -n "$missing" ] || exit 0
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    ;;
  clean)
    apt-get clean
    rm -rf /var/lib/apt/lists/*
    ;;
  *)
    echo "pkgmgr: only install and clean are supported, not $action" >&2
    exit 2
    ;;
esac
PKGMGR
cat > "$work/base/Containerfile" <<CONTAINERFILE
FROM $host_image
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/ee
ENV PATH=/opt/ee/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY pkgmgr /usr/local/bin/pkgmgr
RUN chmod 0755 /usr/local/bin/pkgmgr
CONTAINERFILE
docker build -q -f "$work/base/Containerfile" -t "$base" "$work/base" >/dev/null
echo "base image $base"

# --- The collections as tarballs --------------------------------------------------
mkdir -p "$work/files/collections"
"$top/tests/harness/fresh-clone.sh" "$work/clone"
"$bin/ansible-galaxy" collection build --force --output-path "$work/files/collections" "$work/clone" >/dev/null
# The copy the `ansible` package carries lacks some files its FILES.json lists
# (CI folders): the artifact lists what is there, with their checksums.
"$bin/python" - "$work/files/collections" <<'PY'
import hashlib
import io
import json
import pathlib
import sys
import tarfile

import ansible_collections.community.crypto as crypto

root = pathlib.Path(list(crypto.__path__)[0])
manifest = json.loads((root / "MANIFEST.json").read_text())
listed = json.loads((root / "FILES.json").read_text())
entries = [entry for entry in listed["files"] if entry["name"] == "." or (root / entry["name"]).exists()]
for entry in entries:
    if entry["ftype"] == "file":
        entry["chksum_sha256"] = hashlib.sha256((root / entry["name"]).read_bytes()).hexdigest()
files_json = json.dumps(dict(listed, files=entries), indent=4).encode()
manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
info = manifest["collection_info"]
target = pathlib.Path(sys.argv[1]) / ("%s-%s-%s.tar.gz" % (info["namespace"], info["name"], info["version"]))
with tarfile.open(target, "w:gz") as tar:
    for name, data in (("MANIFEST.json", json.dumps(manifest, indent=4).encode()), ("FILES.json", files_json)):
        member = tarfile.TarInfo(name)
        member.size, member.mode = len(data), 0o644
        tar.addfile(member, io.BytesIO(data))
    for entry in entries:
        if entry["name"] != ".":
            tar.add(root / entry["name"], arcname=entry["name"], recursive=False)
PY

# --- The definition, with those sources -------------------------------------------
"$bin/python" - "$top/execution-environment.yml" "$work/execution-environment.yml" "$base" "$work/files" <<'PY'
import pathlib
import sys

import yaml

source, target, base, files = sys.argv[1:]
definition = yaml.safe_load(open(source))
definition["images"]["base_image"]["name"] = base
definition["dependencies"]["python_interpreter"] = {"package_system": "python3", "python_path": "/opt/ee/bin/python3"}
tarballs = sorted(p.name for p in (pathlib.Path(files) / "collections").glob("*.tar.gz"))
wanted = {entry["name"] for entry in definition["dependencies"]["galaxy"]["collections"]}
found = {"%s.%s" % tuple(name.split("-")[:2]) for name in tarballs}
if found != wanted:
    sys.exit("the definition wants %s, the build has tarballs of %s" % (sorted(wanted), sorted(found)))
definition["dependencies"]["galaxy"]["collections"] = [
    {"name": "collections/" + name, "type": "file"} for name in tarballs]
definition["additional_build_files"] = [{"src": files + "/collections", "dest": "collections"}]
definition["options"]["package_manager_path"] = "/usr/local/bin/pkgmgr"
yaml.safe_dump(definition, open(target, "w"), sort_keys=False)
PY

"$bin/ansible-builder" build --container-runtime docker -f "$work/execution-environment.yml" -c "$work/context" \
  -t "$tag" -v 1 >"$work/build.log" 2>&1 || { tail -n 60 "$work/build.log" >&2; exit 1; }
echo "execution environment $tag"

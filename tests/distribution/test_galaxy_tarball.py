# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as Galaxy users get it: the built tarball, installed into an
empty path, documents itself, declares its controller needs for
ansible-builder, and deploys the standalone topology by FQCN on a real host.

Galaxy itself is not reachable from the test machines, so the tarball is
installed with --no-deps; community.crypto comes from the `ansible` package.
"""

from __future__ import annotations

import json
import tarfile

import pytest
import yaml

from conftest import BIN, TOP, clean_env, nats_roundtrip, run


@pytest.fixture(scope="module")
def tarball(fresh_clone, tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run([BIN / "ansible-galaxy", "collection", "build", "--output-path", out, fresh_clone])
    (built,) = out.glob("cmsgs-nats-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory):
    """An empty collections path with only the tarball installed into it."""
    path = tmp_path_factory.mktemp("collections")
    run([BIN / "ansible-galaxy", "collection", "install", "--no-deps", "-p", path, tarball])
    return path


def tar_names(tarball):
    with tarfile.open(tarball) as archive:
        return archive.getnames()


def test_manifest_declares_what_the_collection_uses(tarball):
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    assert manifest["dependencies"] == {"community.crypto": ">=2.10.0"}
    assert manifest["documentation"] and manifest["homepage"] and manifest["repository"]
    runtime = yaml.safe_load((TOP / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"].startswith(">=2.17")


def test_tarball_holds_the_collection_and_not_the_development_tree(tarball):
    names = tar_names(tarball)
    for shipped in ("meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
                    "playbooks/site.yml", "roles/nats_server/tasks/main.yml", "docs/awx.md",
                    "CHANGELOG.md", "changelogs/config.yaml"):
        assert shipped in names
    for kept_back in ("collections", "tests", "molecule", ".venv", ".cache", "execution-environment.yml",
                      "changelogs/fragments"):
        assert not [n for n in names if n == kept_back or n.startswith(kept_back + "/")], kept_back


def plugin_names(installed, kind):
    root = installed / "ansible_collections" / "cmsgs" / "nats"
    if kind == "module":
        return sorted(p.stem for p in (root / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    if kind == "filter":
        return sorted(p.stem for p in (root / "plugins" / "filter").glob("*.yml"))
    return sorted(p.name for p in (root / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())


@pytest.mark.parametrize("kind", ["module", "filter", "role"])
def test_ansible_doc_shows_every_plugin_and_role(installed, kind):
    names = plugin_names(installed, kind)
    assert names, "no %s found in the installed collection" % kind
    env = clean_env(ANSIBLE_COLLECTIONS_PATH=str(installed))
    listed = json.loads(run([BIN / "ansible-doc", "-t", kind, "--list", "--json", "cmsgs.nats"], env=env).stdout)
    assert sorted(key.split(".", 2)[2] for key in listed) == names
    # One call shows them all; it fails when any of them has no documentation.
    shown = json.loads(run([BIN / "ansible-doc", "-t", kind, "--json", *("cmsgs.nats." + n for n in names)],
                           env=env).stdout)
    assert sorted(key.split(".", 2)[2] for key in shown) == names
    for key, doc in shown.items():
        assert doc.get("doc") or doc.get("entry_points"), key


def test_ansible_builder_introspect_finds_the_controller_needs(installed):
    found = run([BIN / "ansible-builder", "introspect", installed / "ansible_collections" / ".."]).stdout
    data = yaml.safe_load(found.split("\n", 1)[1]) if found.startswith("#") else yaml.safe_load(found)
    python = " ".join(data["python"]) if isinstance(data["python"], list) else str(data["python"])
    system = " ".join(data["system"]) if isinstance(data["system"], list) else str(data["system"])
    for package in ("nkeys", "PyNaCl", "cryptography", "pip", "nats-py"):
        assert package in python, (package, found)
    for package in ("tar", "gzip"):
        assert package in system, (package, found)


def test_tarball_deploys_the_standalone_topology_by_fqcn(installed, systemd_host, tmp_path):
    inventory = tmp_path / "hosts.yml"
    # A plain server, no account server: the stack's checks want that named as a choice.
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"nats_stack_insecure_no_client_auth": True},
        "children": {"nats_servers": {"hosts": {systemd_host.name: systemd_host.inventory_vars()}}}}}))
    # No ansible.cfg in the working folder: only the installed copy can answer.
    env = clean_env(ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_HOST_KEY_CHECKING="false")
    where = run([BIN / "ansible-galaxy", "collection", "list", "cmsgs.nats", "--format", "json"],
                cwd=tmp_path, env=env).stdout
    assert list(json.loads(where)) == [str(installed / "ansible_collections")]
    run([BIN / "ansible-playbook", "-i", inventory, "cmsgs.nats.site"], cwd=tmp_path, env=env)
    assert systemd_host.exec("systemctl", "is-active", "nats-server").stdout.strip() == "active"
    assert nats_roundtrip("nats://%s:4222" % systemd_host.address, b"from the tarball") == b"from the tarball"

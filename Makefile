# Entry points for people and CI. Everything runs from .venv, built from
# requirements.txt; nothing installed by hand is needed.
#   make demo   deploy the stack in local systemd containers and use it
#               (TOPOLOGY=standalone|cluster|hypercluster, standalone by default)
#   make test   the whole suite: unit, lint, sanity, molecule scenarios
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PYTHON ?= python3
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Scenarios in the order they build on each other.
SCENARIOS ?= standalone acs stack
COLLECTION_LINK := .cache/collections/ansible_collections/cmsgs/nats

.PHONY: venv test unit lint sanity molecule demo demo-destroy bench harness clean acs-wheel

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# ansible_collections/cmsgs/nats pointing at this tree, so playbooks, molecule
# and pytest all load the collection being edited.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../../.. $@

venv: $(VENV)/.installed $(COLLECTION_LINK)

# The account server's wheel and the wheels it depends on, pinned as in
# requirements.txt, for hosts that install without an index. The wheel is
# built in the tree (setuptools, no build isolation), then its build
# leftovers are removed.
ACS_WHEELS := .cache/wheels/acs
ACS_DEPENDENCIES := aiohttp nats-py nkeys PyNaCl uvloop
acs-wheel: venv
	rm -rf $(ACS_WHEELS)
	mkdir -p $(ACS_WHEELS)
	$(BIN)/pip wheel --quiet --no-build-isolation --no-deps --wheel-dir $(ACS_WHEELS) extensions/acs
	rm -rf extensions/acs/build extensions/acs/src/cmsgs_acs.egg-info
	$(BIN)/pip wheel --quiet --wheel-dir $(ACS_WHEELS) \
	  $$(grep -E '^($(subst $(eval) ,|,$(ACS_DEPENDENCIES)))==' requirements.txt)
	ls $(ACS_WHEELS)

unit: venv
	tests/harness/ensure-go-jwt.sh
	$(BIN)/python -m pytest -q tests/unit tests/integration_local

# ruff over the Python, ansible-lint over roles and playbooks, antsibull-docs
# over plugin and role documentation (tests/harness/docs-lint.sh).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ansible-lint --offline
	tests/harness/docs-lint.sh

sanity: venv
	tests/harness/sanity.sh

harness: venv
	tests/harness/ensure-docker.sh
	tests/harness/build-image.sh

molecule: harness
	for scenario in $(SCENARIOS); do $(BIN)/molecule test --scenario-name "$$scenario"; done

test: unit lint sanity molecule

TOPOLOGY ?= standalone
demo: harness
	TOPOLOGY=$(TOPOLOGY) tests/harness/demo.sh

demo-destroy: venv
	tests/harness/demo.sh destroy

bench: harness
	tests/harness/bench.sh

clean:
	rm -rf $(VENV) .cache tests/output

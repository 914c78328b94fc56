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
SCENARIOS ?= standalone region1 stack
COLLECTION_LINK := .cache/collections/ansible_collections/cmsgs/nats

.PHONY: venv test unit lint sanity molecule demo demo-destroy bench harness clean

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

unit: venv
	tests/harness/ensure-go-jwt.sh
	$(BIN)/python -m pytest -q tests/unit tests/integration_local

lint: venv
	$(BIN)/ansible-lint --offline

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

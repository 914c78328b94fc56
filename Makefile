# Entry points for people and CI. Everything runs from .venv, built from
# requirements.txt; nothing installed by hand is needed.
#   make demo   deploy the stack in local systemd containers and use it
#               (TOPOLOGY=standalone|cluster|hypercluster, standalone by default)
#   make test   the whole suite: unit, lint, sanity, molecule scenarios, distribution,
#               compat, in two lanes side by side
#   make distribution  the AWX job, the Galaxy tarball, the execution environment
#   make compat  the lowest ansible-core and community.crypto declared
#   make mutation  mutation score of plugins/ (and extensions/acs) against the unit tests
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PYTHON ?= python3
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Scenarios in the order they build on each other.
SCENARIOS ?= standalone acs stack

.PHONY: venv test test-lane-checks-stack test-lane-standalone-acs-compat unit lint sanity molecule distribution ee compat demo demo-destroy bench harness clean acs-wheel mutation nats-server-debian

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# The account server's wheel and the wheels it depends on, pinned as in
# requirements.txt, for hosts that install without an index. The wheel is
# built with the setuptools of .venv (no build isolation, so no index is
# needed for build dependencies) and leaves nothing in extensions/acs.
ACS_WHEELS := .cache/wheels/acs
ACS_DEPENDENCIES := aiohttp nats-py nkeys PyNaCl uvloop
acs-wheel: venv
	rm -rf $(ACS_WHEELS)
	mkdir -p $(ACS_WHEELS)
	$(BIN)/pip wheel --quiet --no-build-isolation --no-deps --wheel-dir $(ACS_WHEELS) extensions/acs
	$(BIN)/pip wheel --quiet --wheel-dir $(ACS_WHEELS) \
	  $$(grep -E '^($(subst $(eval) ,|,$(ACS_DEPENDENCIES)))==' requirements.txt)
	ls $(ACS_WHEELS)

unit: venv nats-server-debian
	tests/harness/ensure-go-jwt.sh
	$(BIN)/python -m pytest -q tests/unit tests/integration_local

# Debian's nats-server (2.9), unpacked under .cache for the reload-or-restart
# oracle; never installed as a package or service.
nats-server-debian:
	tests/harness/nats-server-debian.sh >/dev/null

# Not part of `make test`: a full run takes about half an hour on 2 cores.
mutation: venv
	tests/mutation/run.sh

# ruff over the Python; ansible-lint (and a syntax check of every playbook) in a
# fresh clone with no collections path set, as AWX/Tower syncs the repository as
# a project; antsibull-docs over plugin and role documentation.
lint: venv
	$(BIN)/ruff check .
	tests/harness/awx-project.sh
	tests/harness/docs-lint.sh

sanity: venv
	tests/harness/sanity.sh

harness: venv
	tests/harness/ensure-docker.sh
	tests/harness/build-image.sh

molecule: harness
	for scenario in $(SCENARIOS); do $(BIN)/molecule test --scenario-name "$$scenario"; done

# The collection as users receive it, on one systemd host: an AWX job through
# ansible-runner (survey answers as strings, the Region One Token as a
# credential), the Galaxy tarball deployed by FQCN, the execution environment
# (its build context, and the image running a deployment inside it), the
# changelog fragments.
distribution: harness
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/distribution

# The execution environment image (cmsgs-nats-ee:local) from
# execution-environment.yml, with a base image and the collections' tarballs
# made here (no registry, no Galaxy needed). make distribution builds it too.
ee: harness
	tests/harness/build-ee.sh

# The lowest ansible-core (meta/runtime.yml) and community.crypto (galaxy.yml)
# declared, in .cache/compat-venv: the unit tests and converges of the
# standalone scenario, plain and with client TLS.
compat: harness
	tests/harness/compat.sh

# The suite runs in two lanes side by side. A molecule run leaves about 40% of
# 2 cores idle (the controller waits on the hosts, the hosts on the
# controller), and the other lane takes it: the checks, the stack scenario and
# the distribution in one lane; the standalone and acs scenarios, then the
# lowest ansible-core (compat) in the other. No two lanes share a host, a
# network or a folder. Each lane's output is printed whole when it ends
# (--output-sync), so a failure reads in one piece.
# The whole log goes to tests/output/make-test.log as well; when a lane fails,
# a summary of the failing tests ends the output.
test: harness
	mkdir -p tests/output
	$(MAKE) --jobs=2 --output-sync=recurse test-lane-checks-stack test-lane-standalone-acs-compat 2>&1 \
	  | tee tests/output/make-test.log \
	  || { tests/harness/failure-summary.sh tests/output/make-test.log; exit 1; }

test-lane-checks-stack:
	$(MAKE) unit lint sanity
	$(MAKE) molecule SCENARIOS=stack
	$(MAKE) distribution

test-lane-standalone-acs-compat:
	$(MAKE) molecule SCENARIOS="standalone acs"
	$(MAKE) compat

TOPOLOGY ?= standalone
demo: harness
	TOPOLOGY=$(TOPOLOGY) tests/harness/demo.sh

demo-destroy: venv
	tests/harness/demo.sh destroy

bench: harness
	tests/harness/bench.sh

clean:
	rm -rf $(VENV) .cache tests/output

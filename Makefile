# flaskops.deploy — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(abspath .collections)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0
COLLECTION_LINK := .collections/ansible_collections/flaskops/deploy

# Scenarios of the full matrix (Debian 12) and the smoke scenario (Debian 13).
# The longest first, so that the two-at-a-time run ends as early as it can; a scenario missing from LONGEST_FIRST
# still runs, after them.
LONGEST_FIRST := fleet tls apps default certbot waitress backup
ALL_SCENARIOS := $(shell ls molecule/*/molecule.yml | xargs -n1 dirname | xargs -n1 basename)
SCENARIOS ?= $(filter $(ALL_SCENARIOS),$(LONGEST_FIRST)) $(filter-out $(LONGEST_FIRST),$(ALL_SCENARIOS))
SMOKE_SCENARIOS ?= default
SMOKE_DISTRO ?= debian13
FLASKOPS_DISTRO ?= debian12
# The test hosts' image for a distribution: your own (FLASKOPS_IMAGE_DEBIAN12=registry/...) or the local build.
image_for = $(or $(FLASKOPS_IMAGE_$(shell echo $(1) | tr a-z A-Z)),flaskops/$(1)-systemd:latest)

surveys: venv ## regenerate the AWX surveys from the argument specs
	$(BIN)/python scripts/awx-survey.py

.PHONY: test-containers molecule-all surveys help venv collection hosts lint unit sanity install-check molecule molecule-smoke scenario test test-fast demo demo-clean newcomer build bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## create the controller venv (.venv) with pinned ansible, molecule, linters

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

collection: $(COLLECTION_LINK) ## make this checkout importable as flaskops.deploy

hosts: ## start a Docker engine and build the systemd test images
	scripts/test-hosts.sh all

lint: venv collection ## yamllint + ansible-lint (production profile)
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint

unit: venv collection build ## unit tests (modules, module_utils, templates, the preflight on the controller, example app)
	$(BIN)/python -m pytest -q tests/unit
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/preflight
	cd examples/hello_app && $(abspath $(BIN))/python -m pytest -q -p no:cacheprovider tests

sanity: venv ## ansible-test sanity and units on the built collection (installed with its dependencies)
	VENV=$(abspath $(VENV)) scripts/sanity.sh

install-check: venv ## install the built tarball with its dependencies offline into an empty path; syntax-check the playbooks
	VENV=$(abspath $(VENV)) scripts/install-check.sh

# Scenarios run MOLECULE_JOBS at a time (they mostly wait on package downloads). When one ends, what its checks
# reported is printed (the end of its log when it failed; the whole log stays in .cache/molecule-logs), and a summary
# with the time of each follows.
MOLECULE_JOBS ?= 2
MOLECULE_LOGS := .cache/molecule-logs

molecule: venv collection hosts ## every molecule scenario on Debian 12
	@$(MAKE) --no-print-directory molecule-run DISTRO=debian12 RUN_SCENARIOS="$(SCENARIOS)"

molecule-smoke: venv collection hosts ## the smoke scenarios (SMOKE_SCENARIOS) on Debian 13
	@$(MAKE) --no-print-directory molecule-run DISTRO=$(SMOKE_DISTRO) RUN_SCENARIOS="$(SMOKE_SCENARIOS)"

molecule-run:
	@rm -rf $(MOLECULE_LOGS)/$(DISTRO) && mkdir -p $(MOLECULE_LOGS)/$(DISTRO)
	@$(MAKE) --no-print-directory -k -j$(MOLECULE_JOBS) --output-sync=target $(addprefix molecule-scenario-,$(RUN_SCENARIOS)); \
	  rc=$$?; for r in $(MOLECULE_LOGS)/$(DISTRO)/*.result; do \
	    if grep -q FAILED $$r; then l=$${r%.result}.log; echo "=== end of the failed scenario's log: $$l"; \
	      grep -nE 'fatal:|FAILED!|ERROR|failed=[1-9]|assert' $$l | tail -20; tail -60 $$l; fi; done; \
	  echo "=== molecule summary ($(DISTRO))"; cat $(MOLECULE_LOGS)/$(DISTRO)/*.result; exit $$rc

# A scenario that fails is run once more (MOLECULE_RETRIES): its first log is printed too, and the summary says
# "passed on retry", so a flaky step shows without failing the whole run on a dropped download.
MOLECULE_RETRIES ?= 1
molecule-scenario-%:
	@start=$$(date +%s); echo "=== molecule scenario $* ($(DISTRO))"; log=$(MOLECULE_LOGS)/$(DISTRO)/$*.log; r=FAILED; \
	for attempt in $$(seq 0 $(MOLECULE_RETRIES)); do \
	  if [ $$attempt -gt 0 ]; then echo "=== $* failed; the end of its log, then attempt $$((attempt + 1))"; \
	    grep -nE 'fatal:|FAILED!|failed=[1-9]' $$log | tail -10; tail -40 $$log; fi; \
	  if FLASKOPS_DISTRO=$(DISTRO) FLASKOPS_IMAGE=$(call image_for,$(DISTRO)) $(BIN)/molecule test -s $* > $$log 2>&1; \
	    then r=passed; [ $$attempt -gt 0 ] && r="passed on retry"; break; fi; \
	done; \
	if [ "$$r" = FAILED ]; then tail -400 $$log; else \
	  echo "--- $* $$r: what its checks reported (whole log: $$log)"; \
	  grep -E -A3 '^ *msg: ' $$log | grep -vE 'All assertions passed|^--$$' | tail -150; \
	  grep -E -A12 'SCENARIO RECAP|^(DETAILS|default|$*) ' $$log | tail -14; fi; \
	printf '%-14s %-16s %4ss\n' "$*" "$$r" "$$(( $$(date +%s) - start ))" > $(MOLECULE_LOGS)/$(DISTRO)/$*.result; \
	[ "$$r" != FAILED ]

scenario: venv collection hosts ## one scenario: make scenario S=nginx [FLASKOPS_DISTRO=debian13]
	FLASKOPS_DISTRO=$(FLASKOPS_DISTRO) FLASKOPS_IMAGE=$(call image_for,$(FLASKOPS_DISTRO)) $(BIN)/molecule test -s $(S)

test-fast: lint unit ## lint and unit tests only (no containers)

test: lint unit sanity install-check ## everything CI runs: then the scenarios and the newcomer path side by side
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-containers

# The molecule scenarios (Debian 12, then the smoke run on Debian 13) and the newcomer path use separate containers:
# they run side by side. The smoke run waits for the Debian 12 run: the same scenario name shares molecule's
# ephemeral directory, so the two must not overlap.
test-containers: molecule-all newcomer

molecule-all: venv collection hosts
	@$(MAKE) --no-print-directory molecule; rc=$$?; $(MAKE) --no-print-directory molecule-smoke && exit $$rc

build: venv ## build the collection tarball and install it into a scratch path
	rm -rf .cache/build && mkdir -p .cache/build
	$(BIN)/ansible-galaxy collection build --force --output-path .cache/build
	$(BIN)/ansible-galaxy collection install --force -p .cache/build/installed .cache/build/flaskops-deploy-*.tar.gz
	test -f .cache/build/installed/ansible_collections/flaskops/deploy/roles/app/tasks/main.yml

demo: venv collection ## deploy the example app into a local container and query it through nginx over TLS
	scripts/demo.sh up

demo-clean: ## remove the demo container
	scripts/demo.sh down

# The path a new user takes, as a test: make demo twice (the second changes nothing), then the README's day-2 commands
# exactly as written, in a shell without the variables above, under a load through nginx that must lose no request.
newcomer: venv collection hosts ## the newcomer path: make demo twice, the README's day-2 commands under load (replaces the demo container)
	tests/newcomer.sh

bench: venv collection hosts ## run the benchmarks under bench/ (writes bench/results/*.json)
	bench/run-all.sh

clean: ## remove caches (keeps .venv and images)
	rm -rf .cache .pytest_cache tests/output

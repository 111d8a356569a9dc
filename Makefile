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

# Scenarios of the full matrix (Debian 12) and the smoke scenario (Debian 13); JOB_ORDER below orders their run.
ALL_SCENARIOS := $(shell ls molecule/*/molecule.yml | xargs -n1 dirname | xargs -n1 basename)
SCENARIOS ?= $(ALL_SCENARIOS)
SMOKE_SCENARIOS ?= default
SMOKE_DISTRO ?= debian13
FLASKOPS_DISTRO ?= debian12
# The test hosts' image for a distribution: your own (FLASKOPS_IMAGE_DEBIAN12=registry/...) or the local build.
image_for = $(or $(FLASKOPS_IMAGE_$(shell echo $(1) | tr a-z A-Z)),flaskops/$(1)-systemd:latest)

surveys: venv ## regenerate the AWX surveys from the argument specs
	$(BIN)/python scripts/awx-survey.py

.PHONY: ee judges test-prep test-containers container-pool surveys help venv collection hosts lint unit sanity install-check importer importer-venv changelog changelog-venv molecule molecule-smoke scenario test test-fast demo demo-clean newcomer build bench bench-release bench-websocket clean matrix matrix-venv matrix-min matrix-newest runner-venv

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## create the controller venv (.venv) with pinned ansible, molecule, linters

# Release tools with pins of their own, each in its own venv under .cache (galaxy-importer brings its own ansible-core
# and ansible-lint): scripts/tools/<tool>.txt -> .cache/<tool>-venv.
.cache/%-venv/.installed: scripts/tools/%.txt
	rm -rf $(dir $@) && python3 -m venv $(dir $@)
	$(dir $@)bin/pip install -q -r $<
	touch $@

changelog-venv: .cache/antsibull-changelog-venv/.installed ## antsibull-changelog in .cache/antsibull-changelog-venv

importer-venv: .cache/galaxy-importer-venv/.installed ## galaxy-importer in .cache/galaxy-importer-venv

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

collection: $(COLLECTION_LINK) ## make this checkout importable as flaskops.deploy

hosts: ## start a Docker engine and build the systemd test images
	scripts/test-hosts.sh all

lint: venv collection changelog-venv ## yamllint + ansible-lint (production profile) + the changelog (fragments valid, CHANGELOG.rst up to date)
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint
	VENV=$(abspath $(VENV)) scripts/changelog.sh check

changelog: venv changelog-venv ## cut or update the release galaxy.yml names: changelogs/changelog.yaml and CHANGELOG.rst from the fragments
	VENV=$(abspath $(VENV)) scripts/changelog.sh release

# make test leaves out the importer's ansible-lint step: lint has run the same ansible-lint on the same files.
IMPORTER_ANSIBLE_LINT ?= 1
importer: venv importer-venv ## galaxy-importer (Automation Hub's checks, require_v1_or_greater) on the built tarball
	VENV=$(abspath $(VENV)) IMPORTER_ANSIBLE_LINT=$(IMPORTER_ANSIBLE_LINT) scripts/importer.sh

# UNIT_PLUGINS=0 leaves tests/unit/plugins to `make sanity`, whose ansible-test units runs them on the built
# collection: make test and the matrix legs run both targets, so the plugins' tests run once per controller.
UNIT_PLUGINS ?= 1
unit: venv collection build changelog-venv ## unit tests (modules, module_utils, templates, the preflight on the controller, example app)
	$(BIN)/python -m pytest -q tests/unit $(if $(filter 0,$(UNIT_PLUGINS)),--ignore=tests/unit/plugins)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/preflight
	cd examples/hello_app && $(abspath $(BIN))/python -m pytest -q -p no:cacheprovider tests

sanity: venv ## ansible-test sanity and units on the built collection (installed with its dependencies)
	VENV=$(abspath $(VENV)) scripts/sanity.sh

install-check: venv ## install the built tarball with its dependencies offline into an empty path; syntax-check the playbooks
	VENV=$(abspath $(VENV)) scripts/install-check.sh

# Container jobs run MOLECULE_JOBS at a time from one pool: the Debian 12 scenarios, the smoke runs on Debian 13 and
# the newcomer path, the longest first (JOB_ORDER), so that the pool ends as early as it can. Each molecule run has an
# ephemeral directory of its own per distribution, so a scenario may run on both distributions at once. When one ends,
# what its checks reported is printed (the end of its log when it failed; the whole log stays in .cache/molecule-logs),
# and a summary with the time of each follows.
MOLECULE_JOBS ?= 2
MOLECULE_LOGS := .cache/molecule-logs
# The smoke run on Debian 13 converges, re-runs, and deploys, restarts and rolls back under load; the full matrix of
# operations (check mode, every source type) runs on Debian 12.
SMOKE_OPERATIONS ?= site,deploy,restart,rollback
# The controller of the smoke runs on Debian 13. Empty: this venv (make test); make matrix-min sets it to the minimum
# ansible-core that meta/runtime.yml claims (scripts/matrix.sh venv-min), so one full scenario runs on that controller.
MATRIX_MIN_VENV := .cache/matrix-min-venv
SMOKE_VENV ?=
# Measured lengths put the pool's order: the longest jobs first, the short ones fill the end.
JOB_ORDER := debian12/fleet debian12/harden debian12/judges debian12/default $(SMOKE_DISTRO)/default debian12/tls debian12/websocket debian12/workers matrix-newest \
  debian12/backup debian12/apps newcomer debian12/waitress matrix-min debian12/nginx debian12/certbot debian12/awx debian12/uwsgi \
  debian12/python_venv

molecule: venv collection hosts ## every molecule scenario on Debian 12
	@$(MAKE) --no-print-directory container-pool POOL="$(addprefix debian12/,$(SCENARIOS))"

molecule-smoke: venv collection hosts $(if $(SMOKE_VENV),matrix-venv) ## the smoke scenarios (SMOKE_SCENARIOS) on Debian 13
	@$(MAKE) --no-print-directory container-pool POOL="$(addprefix $(SMOKE_DISTRO)/,$(SMOKE_SCENARIOS))"

pool_order = $(filter $(1),$(JOB_ORDER)) $(filter-out $(JOB_ORDER),$(1))
container-pool:
	@for j in $(POOL); do rm -f $(MOLECULE_LOGS)/$$j.result; done; mkdir -p $(MOLECULE_LOGS)
	@$(MAKE) --no-print-directory -k -j$(MOLECULE_JOBS) --output-sync=target $(addprefix job/,$(call pool_order,$(POOL))); \
	  rc=$$?; for j in $(POOL); do r=$(MOLECULE_LOGS)/$$j.result; \
	    if [ ! -f $$r ] || grep -q FAILED $$r; then l=$(MOLECULE_LOGS)/$$j.log; echo "=== end of the failed job's log: $$l"; \
	      tail -30 $$l; echo "=== what failed in $$j (each fatal line and the message after it)"; \
	      grep -E -A25 'fatal:|FAILED!' $$l | grep -vE '^WARNING: Location' | tail -80; fi; done; \
	  echo "=== container jobs summary"; for j in $(POOL); do cat $(MOLECULE_LOGS)/$$j.result 2>/dev/null || echo "$$j: no result"; done; exit $$rc

# The execution environment as a pool job (not in test-containers' POOL by default): make container-pool POOL=ee.
job/ee:
	@start=$$(date +%s); mkdir -p $(MOLECULE_LOGS); echo "=== the execution environment"; r=passed; \
	VENV=$(abspath $(VENV)) scripts/ee-check.sh > $(MOLECULE_LOGS)/ee.log 2>&1 || r=FAILED; \
	if [ "$$r" = FAILED ]; then tail -120 $(MOLECULE_LOGS)/ee.log; else grep '^\[ee-check\]' $(MOLECULE_LOGS)/ee.log; fi; \
	printf '%-22s %-16s %4ss\n' ee "$$r" "$$(( $$(date +%s) - start ))" > $(MOLECULE_LOGS)/ee.result; \
	[ "$$r" != FAILED ]

# The two ends of the ansible-core range (scripts/matrix.sh): job/matrix-min runs the unit tests and sanity with the
# minimum ansible-core (its scenario is the smoke run on Debian 13, SMOKE_VENV), job/matrix-newest unit tests, sanity
# and a scenario over SSH with the newest `ansible` from PyPI, in a Debian 13 container.
job/matrix-%:
	@start=$$(date +%s); mkdir -p $(MOLECULE_LOGS); echo "=== the version matrix: $*"; r=FAILED; log=$(MOLECULE_LOGS)/matrix-$*.log; \
	for attempt in $$(seq 0 $(MOLECULE_RETRIES)); do \
	  if [ $$attempt -gt 0 ]; then echo "=== matrix-$* failed; the end of its log (whole: $$log.$$attempt), then attempt $$((attempt + 1))"; \
	    cp $$log $$log.$$attempt; grep -vE '^WARNING: Location' $$log | tail -60; fi; \
	  if timeout -k 30 $(JOB_TIMEOUT) scripts/matrix.sh $* > $$log 2>&1; then r=passed; [ $$attempt -gt 0 ] && r="passed on retry"; break; fi; \
	done; \
	grep -vE '^WARNING: Location' $$log | grep -E '^\[(matrix|sanity)\]|passed|failed|^ansible|^ERROR' | tail -40; \
	if [ "$$r" = FAILED ]; then grep -vE '^WARNING: Location' $$log | tail -150; fi; \
	printf '%-22s %-16s %4ss\n' matrix-$* "$$r" "$$(( $$(date +%s) - start ))" > $(MOLECULE_LOGS)/matrix-$*.result; \
	[ "$$r" != FAILED ]

job/newcomer:
	@start=$$(date +%s); mkdir -p $(MOLECULE_LOGS); echo "=== the newcomer path"; r=passed; \
	timeout -k 30 $(JOB_TIMEOUT) tests/newcomer.sh > $(MOLECULE_LOGS)/newcomer.log 2>&1 || r=FAILED; \
	if [ "$$r" = FAILED ]; then tail -200 $(MOLECULE_LOGS)/newcomer.log; else tail -40 $(MOLECULE_LOGS)/newcomer.log; fi; \
	printf '%-22s %-16s %4ss\n' newcomer "$$r" "$$(( $$(date +%s) - start ))" > $(MOLECULE_LOGS)/newcomer.result; \
	[ "$$r" != FAILED ]

# A scenario that fails is run once more (MOLECULE_RETRIES): its first log is printed too, and the summary says
# "passed on retry", so a flaky step shows without failing the whole run on a dropped download.
MOLECULE_RETRIES ?= 1
# A job that runs longer is killed with its processes and counts as failed (then retried): an ansible-playbook whose
# worker died waits for it forever, and a hang must not hold the whole run until CI's limit. The longest job takes
# about 13 minutes on a loaded 2-core machine.
JOB_TIMEOUT ?= 1800
job/%:
	@j=$*; distro=$${j%%/*}; s=$${j#*/}; start=$$(date +%s); echo "=== molecule scenario $$s ($$distro)"; \
	mkdir -p $(MOLECULE_LOGS)/$$distro; log=$(MOLECULE_LOGS)/$$j.log; r=FAILED; \
	image=$$(v=FLASKOPS_IMAGE_$$(echo $$distro | tr a-z A-Z); echo "$${!v:-flaskops/$$distro-systemd:latest}"); \
	steps=; bin=$(abspath $(BIN)); [ "$$distro" != debian12 ] && steps="$(SMOKE_OPERATIONS)"; \
	if [ "$$distro" = $(SMOKE_DISTRO) ] && [ -n "$(SMOKE_VENV)" ]; then bin=$(abspath $(SMOKE_VENV))/bin; \
	  echo "controller: $$($$bin/ansible --version | head -1)"; fi; \
	for attempt in $$(seq 0 $(MOLECULE_RETRIES)); do \
	  if [ $$attempt -gt 0 ]; then echo "=== $$j failed; the end of its log (whole: $$log.$$attempt), then attempt $$((attempt + 1))"; \
	    cp $$log $$log.$$attempt; grep -nE 'fatal:|FAILED!|failed=[1-9]' $$log | tail -10; tail -40 $$log; fi; \
	  if PATH=$$bin:$$PATH FLASKOPS_DISTRO=$$distro FLASKOPS_IMAGE=$$image FLASKOPS_OPERATIONS_STEPS=$$steps \
	    MOLECULE_EPHEMERAL_DIRECTORY=$(abspath .cache/molecule-state)/$$j timeout -k 30 $(JOB_TIMEOUT) $$bin/molecule test -s $$s > $$log 2>&1; \
	    then r=passed; [ $$attempt -gt 0 ] && r="passed on retry"; break; fi; \
	done; \
	if [ "$$r" = FAILED ]; then tail -400 $$log; else \
	  echo "--- $$j $$r: what its checks reported (whole log: $$log)"; \
	  grep -E -A3 '^ *msg: ' $$log | grep -vE 'All assertions passed|^--$$' | tail -150; \
	  grep -E -A12 'SCENARIO RECAP|^(DETAILS|default|'$$s') ' $$log | tail -14; fi; \
	printf '%-22s %-16s %4ss\n' "$$j" "$$r" "$$(( $$(date +%s) - start ))" > $(MOLECULE_LOGS)/$$j.result; \
	[ "$$r" != FAILED ]

scenario: venv collection hosts ## one scenario: make scenario S=nginx [FLASKOPS_DISTRO=debian13]
	FLASKOPS_DISTRO=$(FLASKOPS_DISTRO) FLASKOPS_IMAGE=$(call image_for,$(FLASKOPS_DISTRO)) $(BIN)/molecule test -s $(S)

test-fast: lint unit ## lint and unit tests only (no containers)

# make test: first the static checks side by side with the preparation of the test hosts (image builds, the minimum's
# venv: mostly downloads and unpacking), TEST_PREP_JOBS at a time, each target's output in one piece; then the pool.
TEST_PREP_JOBS ?= 3
test-prep: hosts $(if $(filter matrix-min,$(MATRIX_JOBS)),matrix-venv)
	$(if $(filter matrix-newest,$(MATRIX_JOBS)),scripts/test-hosts.sh image-ssh debian12)

test: venv collection changelog-venv importer-venv ## everything CI runs: the static checks, then the scenarios, the smoke runs, the newcomer path and the version matrix from one pool
	@start=$$(date +%s); $(MAKE) --no-print-directory -j$(TEST_PREP_JOBS) --output-sync=target \
	  test-prep lint unit sanity install-check importer IMPORTER_ANSIBLE_LINT=0 UNIT_PLUGINS=0; \
	  rc=$$?; echo "=== static checks and test hosts: exit $$rc after $$(( $$(date +%s) - start )) s"; exit $$rc
	@$(MAKE) --no-print-directory test-containers

# The molecule scenarios (Debian 12), the smoke runs (Debian 13), the newcomer path and the two ends of the
# ansible-core range share one pool of MOLECULE_JOBS. The minimum's full scenario is the Debian 13 smoke run, whose
# controller is then the minimum's venv; the Debian 12 scenarios run on the default controller (.venv).
# MATRIX_JOBS= leaves the matrix out (make test MATRIX_JOBS=).
MATRIX_JOBS ?= matrix-newest matrix-min
test-containers: venv collection hosts $(if $(filter matrix-min,$(MATRIX_JOBS)),matrix-venv)
	$(if $(filter matrix-newest,$(MATRIX_JOBS)),scripts/test-hosts.sh image-ssh debian12)
	@$(MAKE) --no-print-directory container-pool \
	  POOL="$(addprefix debian12/,$(SCENARIOS)) $(addprefix $(SMOKE_DISTRO)/,$(SMOKE_SCENARIOS)) newcomer $(MATRIX_JOBS)" \
	  $(if $(filter matrix-min,$(MATRIX_JOBS)),SMOKE_VENV=$(MATRIX_MIN_VENV))

matrix: venv collection hosts matrix-venv ## both ends of the ansible-core range (matrix-min and matrix-newest) from one pool
	scripts/test-hosts.sh image-ssh debian12
	@$(MAKE) --no-print-directory container-pool POOL="matrix-newest matrix-min $(SMOKE_DISTRO)/default" SMOKE_VENV=$(MATRIX_MIN_VENV)

matrix-venv: ## the minimum controller: .cache/matrix-min-venv with the lowest ansible-core of requires_ansible
	scripts/matrix.sh venv-min

matrix-min: venv collection hosts matrix-venv ## the minimum ansible-core claimed: unit tests, sanity, and the Debian 13 smoke run on it
	@$(MAKE) --no-print-directory container-pool POOL="matrix-min $(SMOKE_DISTRO)/default" SMOKE_VENV=$(MATRIX_MIN_VENV)

matrix-newest: venv collection hosts ## the newest ansible (PyPI) in a Debian 13 container: unit tests, sanity, a scenario over SSH
	scripts/test-hosts.sh image-ssh debian12
	@$(MAKE) --no-print-directory container-pool POOL="matrix-newest"

judges: venv collection hosts ## the judges scenario: sslyze, the Observatory, nmap, brute force, flood, systemd-analyze, Lynis, secrets in -vvv output
	@$(MAKE) --no-print-directory container-pool POOL="debian12/judges"

ee: venv collection hosts ## build the AWX execution environment (ansible-builder, local base image) and run harden.yml in it over SSH
	VENV=$(abspath $(VENV)) scripts/ee-check.sh

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

runner-venv: ## ansible-runner (what AWX runs jobs with) from PyPI in its own venv, .cache/runner-venv (make newcomer uses it)
	scripts/runner-venv.sh

bench: venv collection hosts ## run the benchmarks under bench/ (writes bench/results/*.json)
	scripts/test-hosts.sh image-ssh debian12
	bench/run-all.sh

# On a quiet machine: the numbers are compared with targets in seconds.
bench-release: venv collection hosts ## site.yml, deploy, restart, rollback against their floors, over docker and SSH (BENCH_CONNECTION=docker|ssh for one)
	scripts/test-hosts.sh image-ssh debian12 && bench/release.sh

bench-websocket: venv collection hosts ## WebSockets with the default settings: BENCH_WS_SECONDS (300) of Socket.IO and HTTP load (no stall over 1 s), then a deploy under it
	BENCH_VENV=$(abspath $(VENV)) bench/websocket.sh

clean: ## remove caches (keeps .venv and images)
	rm -rf .cache .pytest_cache tests/output

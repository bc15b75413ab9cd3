# tlsfleet.stapling — developer and CI entry points.
#   make test   everything CI runs (lint, sanity, units on both ansible-core lines, integration, lab)
#   make help   the list of targets
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath .)
MAIN := ansible-2.21
OLD := ansible-2.19
VENV_MAIN := $(ROOT)/.venv/$(MAIN)
VENV_OLD := $(ROOT)/.venv/$(OLD)
BIN := $(VENV_MAIN)/bin
LINT_COLLECTIONS := $(ROOT)/.build/lint
SCENARIO ?= tests/lab/scenarios/fleet.yml
# The scenario sweep: scenario i of a run is generated from seed SEED+i (replay one: SEED=<seed> N=1).
SEED ?= 1
N ?= 10
SWEEP_CI_SEED := 1700
SWEEP_CI_N := 4
SWEEP_LONG_N := 200
LAB_PACKAGES := nginx apache2 haproxy openssh-server openssh-client dnsmasq nftables openssl iproute2 \
                python3 python3-cryptography python3-openssl python3-yaml
# Headless Chromium renders the HTML report in a test (and takes a screenshot of it).
TEST_PACKAGES := chromium fonts-dejavu-core
# pytest runs from the tree: a path that ends in ansible_collections/tlsfleet/stapling, pointing here.
PYROOT := $(ROOT)/.build/pyroot
# The slowest cases of the long pytest runs, printed at their end: where CI's time goes, in every log.
DURATIONS := --durations=10 --durations-min=10

.PHONY: demo pyroot report-browser playbook-check lab-awx docs-lint changelog ee-check lab-diagnose lab-remediate lab-faults \
        lab-preflight \
        reliability bench lab-sweep lab-sweep-ci
.PHONY: help venv system-deps test static lint ruff ansible-lint changelog-lint sanity units units-main units-old \
        integration lab-unit collection-check clean lab-deps lab-up lab-down lab-check lab-test lab-audit lab-modules

help: ## show this list
	@grep -E '^[a-z][a-z0-9_-]*:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

venv: ## build both pinned virtual environments (.venv/ansible-2.21 on Python 3.12, .venv/ansible-2.19 on 3.11)
	@# Side by side: pip waits on the network and unpacks on one core. Either failing fails the target.
	@tools/make-venv $(MAIN) 3.12 & main=$$!; rc=0; tools/make-venv $(OLD) 3.11 || rc=$$?; wait $$main || rc=$$?; \
	  exit $$rc

system-deps: ## install the Debian packages the tests and the lab need (root; idempotent; starts no service)
	@tools/install-system-deps $(LAB_PACKAGES) $(TEST_PACKAGES)

lab-deps: ## install only the Debian packages the lab needs (root; idempotent; starts no service)
	@tools/install-system-deps $(LAB_PACKAGES)

demo: system-deps venv ## the main job on the built-in lab fleet: lab up, diagnose, print where the report is (root)
	@tools/demo

test: static units integration lab-test lab-modules lab-audit lab-diagnose lab-remediate lab-preflight lab-awx \
      lab-faults lab-sweep-ci ## the README's test command
	@echo "make test: all checks passed"

# pylint (in sanity) and ansible-lint find one CPU where cgroup v1 gives the machine cpu.shares 1024, and sanity's
# steps run one after another: sanity keeps one core busy, and most checks here about one. Those that need neither
# the lab nor ansible-test's copies of the collection run beside it; each target's output is printed when it ends.
STATIC := sanity lint playbook-check report-browser ee-check collection-check lab-unit
static: venv pyroot ## sanity beside lint, playbook-check, report-browser, ee-check, collection-check, lab-unit
	@$(MAKE) --no-print-directory -j2 -Otarget $(STATIC)

lint: ruff ansible-lint changelog-lint docs-lint ## ruff, ansible-lint (production), changelog fragments, antsibull-docs

ruff: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ansible-lint: venv
	@tools/sync-collection $(LINT_COLLECTIONS) >/dev/null
	PATH=$(BIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(LINT_COLLECTIONS) $(BIN)/ansible-lint --profile production --offline

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

docs-lint: venv pyroot ## antsibull-docs lint-collection-docs --plugin-docs (every plugin, role and module doc)
	cd $(PYROOT)/ansible_collections/tlsfleet/stapling && PATH=$(BIN):$$PATH \
	  $(BIN)/antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs=self .

changelog: venv pyroot ## CHANGELOG.md from changelogs/: new fragments join the release named by galaxy.yml's version
	cd $(PYROOT)/ansible_collections/tlsfleet/stapling && PATH=$(BIN):$$PATH $(BIN)/antsibull-changelog release \
	  --version $$(sed -n 's/^version: *//p' galaxy.yml) --update-existing

sanity: venv ## ansible-test sanity on 2.21/Python 3.12, plus compile and import on the managed-node Pythons
	tools/ansible-test $(VENV_MAIN) sanity --venv --python 3.12 --color no
	@# Modules run on the nodes' own Pythons (Debian 12: 3.11; older distributions: 3.8+), via the 2.19 line.
	@for py in 3.8 3.9 3.10 3.11; do \
	  if tools/find-python $$py >/dev/null 2>&1; then \
	    tools/ansible-test $(VENV_OLD) sanity --venv --python $$py --test compile --test import --color no; \
	  else echo "sanity: Python $$py not found, compile/import on it skipped"; fi; \
	done

units: units-main units-old ## ansible-test units on 2.21/Python 3.12 and 2.19/Python 3.11

units-main: venv
	tools/ansible-test $(VENV_MAIN) units --venv --python 3.12 --color no

units-old: venv
	tools/ansible-test $(VENV_OLD) units --venv --python 3.11 --color no

integration: venv ## ansible-test integration targets that run on the controller host
	tools/ansible-test $(VENV_MAIN) integration --venv --python 3.12 --color no

lab-unit: venv ## the lab's own tests that need no root: test PKI, the OCSP responder, the sweep's generator and invariants
	cd tests/lab && $(BIN)/python -m pytest -q -p no:cacheprovider tlslab/tests ../integration/lab/test_sweep.py ../integration/lab/test_audit_compare.py

lab-test: venv lab-deps ## the lab's own test (root): up, ping, /etc isolation, the oracle on the scenarios lab-audit does not bring up, clean down
	TLSFLEET_LAB_SCENARIOS=$${TLSFLEET_LAB_SCENARIOS:-rest} $(BIN)/python -m pytest tests/lab/tests -q -p no:cacheprovider $(DURATIONS)

lab-audit: venv lab-deps ## every lab scenario: the oracle, then node_audit vs its expect (and preflight_expect): 2.21 over ssh, 2.19 over paramiko (root)
	$(BIN)/python tests/integration/lab/audit_scenarios.py --oracle --pack 24 tests/lab/scenarios/healthy.yml \
	  tests/lab/scenarios/causes/*.yml tests/lab/scenarios/fleet.yml tests/lab/scenarios/preflight/*.yml \
	  tests/lab/scenarios/revocation/*.yml
	$(BIN)/python tests/integration/lab/audit_scenarios.py --core $(VENV_OLD) --connection paramiko_ssh \
	  tests/lab/scenarios/healthy.yml tests/lab/scenarios/fleet.yml

lab-modules: venv lab-deps ## every module over ssh (2.21) and paramiko_ssh (2.19) against the healthy lab (root)
	@tools/sync-collection $(ROOT)/.build/lab-collections >/dev/null
	tests/lab/labctl up tests/lab/scenarios/healthy.yml
	ANSIBLE_COLLECTIONS_PATH=$(ROOT)/.build/lab-collections ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_PIPELINING=True \
	  $(BIN)/ansible-playbook -i "$$(tests/lab/labctl inventory)" tests/integration/lab/modules.yml
	ANSIBLE_COLLECTIONS_PATH=$(ROOT)/.build/lab-collections ANSIBLE_PARAMIKO_HOST_KEY_CHECKING=False \
	  ANSIBLE_DEPRECATION_WARNINGS=False $(VENV_OLD)/bin/ansible-playbook -c paramiko_ssh \
	  -i "$$(tests/lab/labctl inventory)" tests/integration/lab/modules.yml
	tests/lab/labctl down

pyroot:
	@mkdir -p $(PYROOT)/ansible_collections/tlsfleet && ln -sfn $(ROOT) $(PYROOT)/ansible_collections/tlsfleet/stapling

report-browser: venv pyroot ## the HTML report rendered by headless Chromium: screenshot, DOM, no request leaves
	TLSFLEET_REQUIRE_BROWSER=1 TLSFLEET_ARTIFACTS=$(ROOT)/.build/artifacts PYTHONPATH=$(PYROOT) \
	  $(BIN)/python -m pytest -q -p no:cacheprovider tests/integration/browser

playbook-check: venv pyroot ## the tarball's contents; the playbooks installed from it, run from a scratch directory
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider $(DURATIONS) tests/integration/package tests/integration/playbooks

ee-check: venv pyroot ## ansible-builder introspect and create accept the collection's execution environment files
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider tests/integration/ee

lab-remediate: venv lab-deps pyroot ## remediate and rollout on the lab fleet: check mode, fix, idempotence, rollbacks, a lying node (root)
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider $(DURATIONS) tests/integration/lab/test_remediate.py
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider $(DURATIONS) tests/integration/lab/test_lying_node.py

lab-preflight: venv lab-deps pyroot ## the preflight playbook and the rollout's gate on the healthy lab: ready, will break, stop before the canary (root)
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider $(DURATIONS) -s tests/integration/lab/test_preflight.py

lab-awx: venv lab-deps pyroot ## AWX-faithful: tarball installed read-only, ansible-runner jobs from a scratch project (root)
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider $(DURATIONS) tests/integration/lab/test_awx_flow.py

lab-diagnose: venv lab-deps pyroot ## the diagnose playbook on the lab fleet: runner, slices, 2.19/paramiko (root)
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider $(DURATIONS) tests/integration/lab/test_diagnose.py

lab-faults: venv lab-deps pyroot ## fault injection over the lab, the cases marked ci (root); all of them: make reliability
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider $(DURATIONS) -rA -m ci tests/integration/lab/test_faults.py
	@cat $${TLSFLEET_BUILD_DIR:-$(ROOT)/.build}/reliability-counts.json

reliability: venv lab-deps pyroot ## every fault-injection case (root), the long scenario sweep, the bad-input corpus, a longer fuzz run
	PYTHONPATH=$(PYROOT) $(BIN)/python -m pytest -q -p no:cacheprovider $(DURATIONS) -rA tests/integration/lab/test_faults.py
	@cat $${TLSFLEET_BUILD_DIR:-$(ROOT)/.build}/reliability-counts.json
	$(BIN)/python tests/integration/lab/sweep.py --seed $${SWEEP_SEED:-$(SWEEP_CI_SEED)} -n $(SWEEP_LONG_N) --pack 5
	PYTHONPATH=$(PYROOT) $(BIN)/python tests/unit/corpus/count.py
	TLSFLEET_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-20000} PYTHONPATH=$(PYROOT) \
	  $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/fuzz tests/unit/corpus

lab-sweep: venv lab-deps ## random fleets combining faults: node_audit vs invariants on the oracle (root): SEED=1 N=10
	$(BIN)/python tests/integration/lab/sweep.py --seed $(SEED) -n $(N)

lab-sweep-ci: venv lab-deps ## the short scenario sweep make test runs (fixed seed, 4 scenarios as one lab fleet, under 2 minutes)
	$(BIN)/python tests/integration/lab/sweep.py --seed $(SWEEP_CI_SEED) -n $(SWEEP_CI_N) --pack $(SWEEP_CI_N)

bench: venv lab-deps pyroot ## the benchmarks (root: the lab): a table of ratios and targets, tests/benchmarks/results/latest.json
	PYTHONPATH=$(PYROOT) $(BIN)/python tests/benchmarks/bench.py --runs $${BENCH_RUNS:-5}

lab-up: venv lab-deps ## bring a lab scenario up (root): make lab-up SCENARIO=tests/lab/scenarios/fleet.yml
	tests/lab/labctl up $(SCENARIO)

lab-down: ## stop the lab and remove everything it created (root)
	tests/lab/labctl down

lab-check: ## the independent oracle against the running lab scenario (root)
	tests/lab/labctl check

collection-check: venv ## build the collection, install it into an empty path, render every module's docs
	@tools/collection-check $(VENV_MAIN)

clean: ## remove build copies and test output (keeps the venvs)
	rm -rf .build tests/output

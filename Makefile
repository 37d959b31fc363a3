# Build and test entry points for the zohothrive.oauth collection (GNU make).
#
#   make demo     run the end-to-end demo against the local Zoho Accounts emulator
#   make test     everything CI runs: lint, sanity, units and system on every supported
#                 ansible-core minor, integration, molecule (stops after the first failing
#                 group of suites; `make test KEEP_GOING=1` runs them all)
#   make help     list all targets
#
# Every suite is a nox session (noxfile.py, antsibull-nox.toml; `nox --list` in the copy), run by
# tests/tools/run-nox with nox from .venv (pinned in tests/requirements-dev.txt +
# tests/constraints-dev.txt). The newest ansible-core's sessions run in .venv itself; the others
# make their own pinned venvs under .build/nox. ansible-test and antsibull-nox need the collection
# at .../ansible_collections/zohothrive/oauth, so the suites run on a copy in .build/ that run-nox
# (and `make collection`) keeps in sync with the work tree. tests/tools/ keeps what nox does not do:
# the venv, the copy, the interpreters, the offline pip bootstrap, and `make test`'s scheduling.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.NOTPARALLEL:
MAKEFLAGS += --no-print-directory

ROOT     := $(CURDIR)
BUILD    := $(ROOT)/.build
VENV     := $(ROOT)/.venv
COLL_DIR := $(BUILD)/ansible_collections/zohothrive/oauth
PYBIN    := $(BUILD)/pybin
TOOLS    := $(ROOT)/tests/tools

REQUIREMENTS := tests/requirements-dev.txt tests/constraints-dev.txt
VENV_STAMP   := $(VENV)/.zt-installed
# The ansible-core matrix: every supported minor older than .venv's. Each runs the unit suite
# (make units-MINOR) and the end-to-end suite (make system-MINOR) as nox sessions (noxfile.py,
# CORE_RELEASES there), in venvs under .build/nox from tests/requirements-core-MINOR.txt.
# The minors are those with a lock file (`make lock` writes them from CORE_RELEASES in noxfile.py).
CORE_MINORS  := $(sort $(patsubst tests/requirements-core-%.txt,%,$(wildcard tests/requirements-core-*.txt)))
# The Python of a nox session's venv, for the suite banner: .build/nox/units-2-18/bin/python.
nox_python    = $(BUILD)/nox/$(subst .,-,$(1))/bin/python

# Paths for the scripts in tests/tools (see tests/tools/lib.bash).
export ZT_ROOT     := $(ROOT)
export ZT_BUILD    := $(BUILD)
export ZT_VENV     := $(VENV)
export ZT_COLL_DIR := $(COLL_DIR)
export ZT_PYBIN    := $(PYBIN)
export ZT_TEST_HOME := $(BUILD)/home
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)

SUITE := $(TOOLS)/suite
# `make lint`: antsibull-nox's static checks (antsibull-nox.toml), then ours (noxfile.py).
LINT_SESSIONS := ansible-lint docs-check extra-checks build-import-check shellcheck changelog

.PHONY: help venv units-cores pybin collection lint sanity units integration system \
        emulator-selftest openbao-selftest molecule test demo bench lock clean
.PHONY: $(addprefix units-,$(CORE_MINORS)) $(addprefix system-,$(CORE_MINORS))

help: ## list the targets
	@sed -nE 's/^\$$\(addprefix [a-z]+-,\$$\(CORE_MINORS\)\): //; /^[a-z][a-z0-9%.-]*:.*## /p' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# --- environment -------------------------------------------------------------------------

venv: $(VENV_STAMP) pybin ## controller venv (Python >= 3.12) from the pinned requirements

# Rebuilt from scratch only when a requirements file changed, or when the venv's interpreter
# no longer runs (for example after the Python it was made from went away).
ifneq ($(shell $(VENV)/bin/python -c 'print("ok")' 2>/dev/null),ok)
.PHONY: $(VENV_STAMP)
endif
$(VENV_STAMP): $(REQUIREMENTS)
	$(TOOLS)/make-venv $(VENV) tests/requirements-dev.txt
	touch $@

pybin: ## .build/pybin: python3.9 ... python3.13 links to real interpreters, for ansible-test
	$(TOOLS)/make-pybin $(PYBIN)

collection: ## sync the work tree into .build/ansible_collections/zohothrive/oauth
	"$$($(TOOLS)/find-python)" $(TOOLS)/sync-collection $(ROOT) $(COLL_DIR)

# .venv's lock first (nox itself runs from .venv), then the nox venvs' locks: the sessions tagged
# lock in noxfile.py (tests/requirements-core-MINOR.txt, tests/nox/constraints-build-import-check.txt).
lock: ## regenerate every lock: tests/constraints-dev.txt (.venv), then the nox sessions' locks
	$(TOOLS)/update-lock
	$(MAKE) venv
	$(TOOLS)/run-nox -t lock

# --- suites (run-nox re-syncs the copy first) --------------------------------------------

lint: venv ## nox sessions: ansible-lint, docs-check, extra-checks, build-import-check (antsibull-nox), shellcheck, changelog
	$(TOOLS)/ensure-debs shellcheck
	$(SUITE) lint $(TOOLS)/run-nox $(LINT_SESSIONS)

sanity: venv ## nox session: ansible-test sanity --venv on every available Python
	$(TOOLS)/ensure-debs shellcheck
	$(SUITE) sanity $(TOOLS)/run-nox sanity

units: venv ## nox session: ansible-test units --venv on every available Python, newest ansible-core
	$(SUITE) units $(TOOLS)/run-nox units

$(addprefix units-,$(CORE_MINORS)): units-%: venv ## nox session: ansible-test units on ansible-core % with its one Python (units-2.17 ... units-2.20)
	ZT_SUITE_PYTHON=$(call nox_python,units-$*) ZT_TEST_HOME=$(BUILD)/home-units-$* $(SUITE) units-$* $(TOOLS)/run-nox units-$*

integration: venv ## nox session: ansible-test integration against the Zoho Accounts emulator
	$(SUITE) integration $(TOOLS)/run-nox integration

emulator-selftest: venv ## nox session: the emulator's own tests (tests/emulator/test_emulator.py)
	$(SUITE) emulator-selftest $(TOOLS)/run-nox emulator-selftest

openbao-selftest: venv ## nox session: the OpenBao test harness's own tests (tests/openbao): a real vault for the store tests
	$(SUITE) openbao-selftest $(TOOLS)/run-nox openbao-selftest

system: venv ## nox session: end-to-end pytest suite in tests/system (with the vault store on a real OpenBao server)
	$(SUITE) system $(TOOLS)/run-nox system

units-cores: $(addprefix units-,$(CORE_MINORS)) ## units-2.17 ... units-2.20, one after the other (they share ansible-test's tests/output)

$(addprefix system-,$(CORE_MINORS)): system-%: venv ## nox session: tests/system on ansible-core % (system-2.17 ... system-2.20)
	ZT_SUITE_PYTHON=$(call nox_python,system-$*) ZT_TEST_HOME=$(BUILD)/home-system-$* $(SUITE) system-$* $(TOOLS)/run-nox system-$*

molecule: venv ## antsibull-nox's molecule session: molecule test --all (scenarios in extensions/molecule)
	$(SUITE) molecule $(TOOLS)/run-nox molecule

# A group "a+b" runs its members at the same time, and a member "x,y" is a lane that runs its
# suites one after the other (run-all prints each member's output whole when the group ends). Each
# end-to-end leg keeps about one core busy (CI has two), so the lane of short suites, which share
# ansible-test's tests/output and must not overlap, runs beside one leg, and the other legs run
# two by two. The lane goes first: a failing static check shows within minutes.
comma := ,
empty :=
space := $(empty) $(empty)
CHECKS_LANE := lint sanity units emulator-selftest openbao-selftest integration \
               $(addprefix units-,$(CORE_MINORS)) molecule
TEST_SUITES := system-2.19+$(subst $(space),$(comma),$(strip $(CHECKS_LANE))) \
               system+system-2.20 system-2.17+system-2.18

test: ## venv, then every suite (lanes and legs side by side, see TEST_SUITES); stops after the first failing group
	$(TOOLS)/run-all $(TEST_SUITES)

demo: venv collection ## run tests/demo/run_demo.py against the emulator
	$(VENV)/bin/python tests/demo/run_demo.py

# Not part of `make test`: it prints figures and never fails on a time. ZT_BENCH_REPS=5 (and
# ZT_BENCH_LIGHT_REPS, ZT_BENCH_HOSTS, ZT_BENCH_FORKS) change its rounds; see tests/bench/README.md.
bench: venv collection ## benchmark at 50 local hosts: the role, modules and lookup next to hand-written playbooks (tests/bench)
	$(VENV)/bin/python tests/bench/run_bench.py

clean: ## stop a leftover emulator, remove .build (with the nox venvs) and .venv
	-[[ ! -x $(VENV)/bin/python ]] || $(VENV)/bin/python tests/emulator/zoho_accounts_emulator.py stop --state-dir $(BUILD)/emulator-integration
	rm -rf $(BUILD) $(VENV)

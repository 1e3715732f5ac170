# hotline-router: `make demo` and `make test` set up everything they need on a
# Debian 12 machine (as root): apt packages, a virtualenv, the lab Asterisk.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# podman + runc run the lab container, debootstrap makes its base image when no
# registry is reachable, sip-tester gives sipp (the lab's callers and phones),
# docker-compose (v1, Python) checks docker/compose.yaml against the compose schema;
# chromium is the headless browser the web console's tests drive (never a downloaded
# build), fonts-wqy-microhei gives it Chinese glyphs for the screenshots; kamailio
# is the farm's SIP proxy (docker/kamailio.cfg), which the farm tests start themselves
# (Debian installs no running service for it without systemd).
APT_PACKAGES := podman runc uidmap debootstrap sip-tester python3-venv docker-compose \
                chromium fonts-wqy-microhei kamailio

.PHONY: help setup system-deps demo test lint lab lab-down bench mutation clean

help:
	@echo "make demo      real SIP calls through a lab Asterisk, then the records"
	@echo "make test      lint, type-check and the whole test suite (lab included)"
	@echo "make lab       start the lab Asterisk and print how to reach it"
	@echo "make lab-down  stop the lab"
	@echo "make bench     router vs app_queue vs Dial(), decision core, 500 calls: BENCHMARKS.md"
	@echo "make mutation  mutation score of the pure modules (docs/development.md)"

system-deps:
	@missing=""; \
	for cmd in podman runc debootstrap sipp docker-compose chromium kamailio; do command -v $$cmd >/dev/null || missing="$$missing $$cmd"; done; \
	fc-list 2>/dev/null | grep -qi microhei || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PACKAGES); \
	  case "$$missing" in *kamailio*) \
	    if [ -d /run/systemd/system ] && systemctl is-enabled -q kamailio 2>/dev/null; then \
	      echo "stopping the kamailio service just installed (it would take port 5060 from the lab)"; \
	      systemctl disable --now kamailio; \
	    fi;; \
	  esac; \
	fi

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: system-deps $(BIN)/.installed

demo: setup
	$(BIN)/python -m tests.lab demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# pytest exits 5 when it collects nothing: that is a failure here, not a pass.
# A hung run is stopped after 80 minutes (CI allows 90), with pytest's report so far.
test: lint
	@timeout -s INT -k 60 4800 $(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; fi; exit $$rc

# The benchmarks (not part of `make test`): about 10 minutes, never more than 30.
# Extra options: make bench BENCH_ARGS="--rates 5,10 --concurrent-calls 500" (see
# python -m tests.bench --help).
BENCH_ARGS ?=

$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[bench]'
	touch $@

bench: setup $(BIN)/.bench-installed
	timeout -s INT -k 60 1800 $(BIN)/python -m tests.bench all $(BENCH_ARGS)

# Mutation testing of the pure modules with the fast tests (not part of `make test`):
# 2 to 9 minutes on two cores, by their load. Each run starts afresh in mutants/
# (mutmut's folder); mutmut's progress goes to mutants/run.log, the score per module
# to the terminal; tests/mutation/survivors.toml keeps the threshold and the survivors
# allowed. Then hand-made mutants of the modules' constants (tests/mutation/constants.py).
$(BIN)/.mutation-installed: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[mutation]'
	touch $@

mutation: setup $(BIN)/.mutation-installed
	rm -rf mutants
	@mkdir -p mutants
	@echo "mutmut run: progress in mutants/run.log"
	@HYPOTHESIS_PROFILE=mutation $(BIN)/mutmut run > mutants/run.log 2>&1 || \
	  { tail -n 40 mutants/run.log >&2; echo "mutmut run failed" >&2; exit 1; }
	@tail -n 1 mutants/run.log
	$(BIN)/python -m tests.mutation.score
	$(BIN)/python -m tests.mutation.constants

lab: setup
	$(BIN)/python -m tests.lab up

lab-down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m tests.lab down; else $(PYTHON) -m tests.lab down; fi

clean: lab-down
	rm -rf $(VENV) .lab .pytest_cache .mypy_cache .ruff_cache mutants

# The two commands of the README, plus helpers. Everything installs itself: a fresh machine
# needs only Python 3.11+ and Go 1.26 (see README, "Requirements").
SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export GOTOOLCHAIN := local

.PHONY: demo test test-fast typecheck build-controlplane controlplane clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kube-preflight needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

## The main job: a throwaway control plane with a real node (as root) and a real chart, broken like
## the incident (helm --wait times out, helm preflight refuses), explained, repaired, deployed again.
demo: $(BIN)/.installed controlplane
	$(BIN)/python scripts/demo.py

## The tests: lint and type check, the Jenkins library's tests, unit tests, then the tests against
## the real control plane.
## pytest's exit code 5 means no test was collected: the suite is missing, which is a failure.
test: $(BIN)/.installed controlplane
	$(BIN)/python -m ruff check kube_client preflight sa_tokens tests scripts bench
	$(BIN)/python -m mypy
	mvn -B -q -f jenkins/pom.xml test  # the Jenkins Shared Library's tests (jenkins/README.md)
	@$(BIN)/python -m pytest; code=$$?; \
	  if [ $$code -eq 5 ]; then echo "make test: pytest collected no tests: the suite is missing or mis-selected" >&2; fi; \
	  exit $$code

## Unit tests only (no control plane): seconds.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not cluster"

typecheck: $(BIN)/.installed
	$(BIN)/python -m ruff check kube_client preflight sa_tokens tests scripts bench
	$(BIN)/python -m mypy

build-controlplane:
	tests/controlplane/build.sh

## The real control plane, helm and the kubelet, built once per version set (about 12 min cold on 2 cores, then
## cached): its progress lines are shown, the Go module download chatter is not.
controlplane:
	@tests/controlplane/build.sh 2>&1 >/dev/null | grep --line-buffered -v '^go: downloading' >&2; exit $${PIPESTATUS[0]}

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis *.egg-info

# The two commands of the README, plus helpers. Everything installs itself: a fresh machine
# needs only Python 3.11+ and Go 1.26 (see README, "Requirements").
SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export GOTOOLCHAIN := local

.PHONY: demo test test-fast typecheck build-controlplane controlplane wheel image container-image image-lock clean

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

## The unit tier (no control plane, no integration test such as a real pip install), on 2 workers
## (pytest-xdist): about 8 s on 2 cores.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not cluster and not integration" -n 2

typecheck: $(BIN)/.installed
	$(BIN)/python -m ruff check kube_client preflight sa_tokens tests scripts bench
	$(BIN)/python -m mypy

build-controlplane:
	tests/controlplane/build.sh

## The real control plane, helm and the kubelet, built once per version set (about 12 min cold on 2 cores, then
## cached): its progress lines are shown, the Go module download chatter is not.
controlplane:
	@tests/controlplane/build.sh 2>&1 >/dev/null | grep --line-buffered -v '^go: downloading' >&2; exit $${PIPESTATUS[0]}

## The wheel, for agents that install it pinned by hash (Jenkinsfile.example): prints its path and SHA-256.
wheel: $(BIN)/.installed
	$(BIN)/pip wheel --quiet --no-deps -w dist .
	@sha256sum dist/kube_preflight-*.whl

## kube-preflight's image without a registry: an OCI layout tarball (Debian packages + the wheel;
## reproducible: the same tree gives the same digest, printed last). As root on Debian (apt-get download).
IMAGE_TAR ?= dist/kube-preflight-image.tar
IMAGE_REF ?= preflight.test/kube-preflight:dev
image: $(BIN)/.installed
	@mkdir -p $(dir $(IMAGE_TAR))
	$(BIN)/python scripts/image.py --out $(IMAGE_TAR) --ref $(IMAGE_REF)

## The same image with a container builder, for a registry: make container-image IMAGE=registry/kube-preflight:TAG
CONTAINER ?= $(shell command -v podman || command -v docker)
IMAGE ?= kube-preflight:dev
container-image:
	$(CONTAINER) build -f image/Containerfile -t $(IMAGE) .

## Re-pin the image's Python dependencies (image/requirements.txt) after a change to pyproject.toml.
image-lock: $(BIN)/.installed
	rm -rf build/image-lock && mkdir -p build/image-lock
	$(BIN)/pip download -q -d build/image-lock .
	@( head -2 image/requirements.txt; cd build/image-lock && for f in $$(ls | grep -v '^kube_preflight' | sort -f); do \
	  echo "$$(echo $$f | sed -E 's/^([A-Za-z0-9_.]+)-([0-9][^-]*)(-|\.zip|\.tar\.gz).*/\1==\2/; s/\.zip$$//') --hash=sha256:$$(sha256sum $$f | cut -d' ' -f1)"; \
	done ) > image/requirements.txt.new && mv image/requirements.txt.new image/requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis *.egg-info

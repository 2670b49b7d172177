# slimpipe: every target installs what it needs; `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
IMAGE_REPO ?= ghcr.io/slimpipe
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
OUT    ?= demo-out
TASK   ?= classification
RUNNER ?= subprocess

.PHONY: install demo test test-containers bench compile images push clean container-tools base-images wheel image-cpu image-gpu

install: $(STAMP)

# Re-installs only when the pins or the package metadata change; `pip install -e` keeps code edits live.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==24.3.1"
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev]"
	touch $(STAMP)

# `make demo RUNNER=container` runs every step in the CPU image (built or reused) through a Docker API.
demo: install
ifeq ($(RUNNER),container)
	$(MAKE) base-images image-cpu
	host=$$(images/docker-api.sh) && DOCKER_HOST=$$host $(BIN)/python -m slimpipe.demo --task $(TASK) --out $(OUT) \
	    --runner container
else
	$(BIN)/python -m slimpipe.demo --task $(TASK) --out $(OUT)
endif

# The suite, less the tests that need a container engine (`make test-containers`).
test: install
	$(BIN)/python -m pytest -q -x -rs --durations=10 -m "not containers"

# Every step in its image: podman/runc/debootstrap when missing, the base and CPU images (reused when
# present), podman's Docker API (or a Docker engine), then the classification demo pipeline in containers.
test-containers: install base-images image-cpu
	host=$$(images/docker-api.sh) && DOCKER_HOST=$$host $(BIN)/python -m pytest -q -x -rs -s -m containers \
	    tests/test_containers.py

bench: install
	$(BIN)/python -m bench.run --out bench/results.md

# Regenerate the committed compiled specs (tests fail when they are out of date).
compile: install
	$(BIN)/slimpipe compile --out pipelines/prune_pipeline.yaml --components

# Images (images/README.md): docker when `docker info` answers, else podman (ENGINE=... overrides), podman
# with the project's images/containers.conf. `make images` builds the CPU image and the GPU image where its
# CUDA base can be had (skipped, saying why, elsewhere); image-cpu / image-gpu build one.
export CONTAINERS_CONF ?= $(CURDIR)/images/containers.conf
export CONTAINERS_REGISTRIES_CONF ?= $(CURDIR)/images/registries.conf
CPU_IMAGE = $(IMAGE_REPO)/slimpipe-cpu:$(VERSION)
GPU_IMAGE = $(IMAGE_REPO)/slimpipe-gpu:$(VERSION)
WHEEL     = dist/slimpipe-$(VERSION)-py3-none-any.whl

# podman, runc and debootstrap from Debian packages, when missing (root).
container-tools:
	@missing=""; for tool in podman runc debootstrap; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$$missing; fi

# python:3.11-slim-bookworm from Debian packages, for machines that cannot pull it; kept when present.
base-images: container-tools
	images/base/build-base.sh

# A reproducible wheel (fixed timestamps): unchanged code gives the same bytes, so the image layer stays cached.
wheel:
	rm -rf build dist/slimpipe-*.whl
	SOURCE_DATE_EPOCH=315532800 $(PYTHON) -m pip wheel -q --no-deps -w dist .

image-cpu: wheel
	images/build.sh cpu $(CPU_IMAGE) $(WHEEL)

image-gpu: wheel
	images/build.sh gpu $(GPU_IMAGE) $(WHEEL)

images: image-cpu
	SKIP_UNAVAILABLE=1 images/build.sh gpu $(GPU_IMAGE) $(WHEEL)

push: images
	images/push.sh $(CPU_IMAGE) $(GPU_IMAGE)

clean:
	rm -rf $(VENV) $(OUT) bench/work

# slimpipe: every target installs what it needs; `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
IMAGE_REPO ?= ghcr.io/slimpipe
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
OUT    ?= demo-out
TASK   ?= classification

.PHONY: install demo test bench compile images push clean

install: $(STAMP)

# Re-installs only when the pins or the package metadata change; `pip install -e` keeps code edits live.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==24.3.1"
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/python -m slimpipe.demo --task $(TASK) --out $(OUT)

test: install
	$(BIN)/python -m pytest -q -x -rs --durations=10

bench: install
	$(BIN)/python -m bench.run --out bench/results.md

# Regenerate the committed compiled specs (tests fail when they are out of date).
compile: install
	$(BIN)/slimpipe compile --out pipelines/prune_pipeline.yaml --components

images:
	docker build -f images/cpu/Dockerfile -t $(IMAGE_REPO)/slimpipe-cpu:$(VERSION) .
	docker build -f images/gpu/Dockerfile -t $(IMAGE_REPO)/slimpipe-gpu:$(VERSION) .

push: images
	docker push $(IMAGE_REPO)/slimpipe-cpu:$(VERSION)
	docker push $(IMAGE_REPO)/slimpipe-gpu:$(VERSION)

clean:
	rm -rf $(VENV) $(OUT) bench/work

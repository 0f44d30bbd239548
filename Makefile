# Redub: two commands on a fresh machine.
#   make demo   installs what is missing, builds, dubs examples/sample.mp4 into Spanish
#   make test   the whole test suite (model-backed tests included; setup runs first)
SHELL := /bin/bash
REDUB_HOME ?= $(HOME)/.cache/redub
# Outside the clone, so CI and later runs reuse the build.
CARGO_TARGET_DIR ?= $(REDUB_HOME)/target
export REDUB_HOME CARGO_TARGET_DIR
# ort must not download a runtime at build time (setup installs it); whisper.cpp must not be
# tuned to this CPU, so the binary runs on other machines.
export ORT_SKIP_DOWNLOAD := 1
export GGML_NATIVE := OFF
CARGO ?= cargo
BIN := $(CARGO_TARGET_DIR)/debug/redub

.PHONY: setup build demo test lint fmt clean-jobs
setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build -p redub -p redub-llm

demo: build
	$(BIN) dub examples/sample.mp4 --to es -o examples/sample.es.mp4
	@echo "Dubbed: examples/sample.es.mp4 (subtitles beside it)"

test: setup
	$(CARGO) test --workspace -- --test-threads 1 --show-output

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-jobs:
	rm -rf $(REDUB_HOME)/jobs

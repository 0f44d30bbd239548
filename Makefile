# Redub: two commands on a fresh machine.
#   make demo   installs what is missing, builds, dubs examples/sample.mp4 into Spanish
#   make test   the whole test suite (model-backed tests included; setup runs first)
SHELL := /bin/bash
REDUB_HOME ?= $(HOME)/.cache/redub
# Outside the clone, so CI and later runs reuse the build.
CARGO_TARGET_DIR ?= $(REDUB_HOME)/target
export REDUB_HOME CARGO_TARGET_DIR
# ort must not download a runtime at build time (setup installs it); whisper.cpp must not be
# tuned to this CPU, so the binary runs on other machines. Its SIMD level is pinned instead to
# x86-64-v3 (Haswell, 2013, and later: AVX2, FMA, F16C, BMI2), what ggml picks by itself without
# GGML_NATIVE unless SOURCE_DATE_EPOCH is set, where it would silently drop to SSE only. The
# flags only apply to x86 targets.
export ORT_SKIP_DOWNLOAD := 1
export GGML_NATIVE := OFF
export GGML_AVX := ON
export GGML_AVX2 := ON
export GGML_FMA := ON
export GGML_F16C := ON
export GGML_BMI2 := ON
CARGO ?= cargo
BIN := $(CARGO_TARGET_DIR)/debug/redub

.PHONY: setup build demo test lint fmt clean-jobs bench bench-dsp
setup:
	@scripts/setup.sh

# Every target of the workspace (binaries, tests, examples, benches) in one cargo call: the
# features cargo unifies then are the test suite's (dev-dependencies included), so `make test`
# and `make bench` after `make demo` compile nothing again. (`cargo build -p redub -p redub-llm`
# resolved features without the dev-dependencies, and the tests then built llama.cpp and most of
# the workspace a second time.)
build: setup
	$(CARGO) build --workspace --all-targets

demo: build
	$(BIN) dub examples/sample.mp4 --to es -o examples/sample.es.mp4
	@echo "Dubbed: examples/sample.es.mp4 (subtitles beside it)"
	@echo "The studio: run '$(BIN) serve' and open http://127.0.0.1:8080/ (docs/studio.md)"

test: build
	$(CARGO) test --workspace -- --test-threads 1 --show-output
	cd web && npm test --silent

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-jobs:
	rm -rf $(REDUB_HOME)/jobs

# A benchmark, never a timed test: dubs examples/sample.mp4 and a generated 10-minute input with
# the binary `build` makes, per stage, next to faster-whisper on the same audio; writes
# bench/RESULTS.md. Settings (BENCH_SECS, BENCH_INPUTS, ...) are listed in scripts/bench.sh.
bench: build
	@BIN="$(BIN)" RENDER_BIN="$(CARGO_TARGET_DIR)/debug/examples/render_bench" scripts/bench.sh

# Criterion benches of the DSP (mix, stretch, PSOLA, resample, loudness, limiter), built with the
# same dev profile as everything else; figures in bench/DSP.md.
bench-dsp:
	$(CARGO) bench --profile dev -p redub-dsp --bench dsp

# gov-report-rag: set up, test, housekeeping.
#
#   make setup        virtualenv + dependencies + models + chunk store + indexes (idempotent)
#   make test         the test suite
#   make lint         formatter check, linter and type checker
#   make clean-index  remove the generated chunk store and indexes (index/*, keeps index/.gitkeep)
#   make services     install PostgreSQL for the shared library's tests and benchmarks (Debian, as root)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: help setup test lint clean-index browser services

help:
	@echo "make setup        create .venv, install dependencies, fetch and verify models, build the chunk store and indexes"
	@echo "make test         run the test suite"
	@echo "make lint         formatter check, linter and type checker (ruff format --check, ruff check, mypy)"
	@echo "make clean-index  remove the chunk store under index/"
	@echo "make browser      install headless Chromium and its driver for the web page's tests (Debian, as root)"
	@echo "make services     install PostgreSQL for the shared library's tests and benchmarks (Debian, as root)"

# llama-cpp-python is published only as source, so it is built here, for the CPU it will run on:
# AVX-512 with VNNI/VBMI/BF16 when the CPU has all of them, else the portable AVX2/FMA/F16C set; AVX-VNNI
# only where the CPU lists it. AMX stays off (its kernels crashed in a native build on a virtual
# machine) and so does -march=native.
# Only what its Python package loads is compiled: libllama and the libggml* it links (74 of the 178
# objects of a default build). Left out: the multimodal library (LLAVA_BUILD=OFF; nothing here reads
# images), llama.cpp's common library (cmake/llama-lean.cmake says why it takes a file), and the tests,
# tools, examples and server binaries (already off for llama.cpp as a sub-project; said here so a new
# version's defaults cannot bring them back). llama_cpp.server, the OpenAI-compatible server the
# openai backend is tested against, is Python and stays.
# The wheel is kept in a per-user cache (LLAMA_CACHE) named after the flags and cmake/llama-lean.cmake,
# so a fresh clone on the same machine installs it in seconds, and another CPU or a flag change builds
# its own.
LLAMA_VERSION    := 0.3.36
LLAMA_PORTABLE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_NO_AMX     := -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_LEAN_CMAKE := cmake/llama-lean.cmake
LLAMA_LEAN       := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
                    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF \
                    -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(CURDIR)/$(LLAMA_LEAN_CMAKE)
CPUINFO          ?= /proc/cpuinfo
LLAMA_AVX512_CPU := $(shell grep -m1 '^flags' $(CPUINFO) 2>/dev/null | tr ' ' '\n' | \
                      grep -cxE 'avx512f|avx512bw|avx512vl|avx512dq|avx512_vnni|avx512vbmi|avx512_bf16')
# AVX-VNNI (the VEX-encoded form) is a separate extension: Intel's recent cores have it, AMD's Zen 4
# has AVX512-VNNI without it, and a build that assumes it dies there with an illegal instruction.
LLAMA_AVX_VNNI   := $(shell grep -m1 '^flags' $(CPUINFO) 2>/dev/null | tr ' ' '\n' | grep -cx 'avx_vnni')
ifeq ($(LLAMA_AVX512_CPU),7)
LLAMA_CMAKE_ARGS := $(LLAMA_PORTABLE) -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON $(if $(filter 1,$(LLAMA_AVX_VNNI)),-DGGML_AVX_VNNI=ON,-DGGML_AVX_VNNI=OFF) $(LLAMA_NO_AMX) $(LLAMA_LEAN)
else
LLAMA_CMAKE_ARGS := $(LLAMA_PORTABLE) -DGGML_AVX512=OFF $(LLAMA_NO_AMX) $(LLAMA_LEAN)
endif
LLAMA_CACHE      ?= $(HOME)/.cache/gov-report-rag
# named after the flags without the clone's own path, and after the file the flags name
LLAMA_BUILD_ID   := $(shell { echo '$(subst $(CURDIR)/,,$(LLAMA_CMAKE_ARGS))'; cat $(LLAMA_LEAN_CMAKE); } | sha1sum | cut -c1-10)
LLAMA_WHEELS     := $(LLAMA_CACHE)/llama-$(LLAMA_VERSION)-$(LLAMA_BUILD_ID)
LLAMA_LOG        := $(VENV)/llama-build.log
# Written after a successful install; while it is newer than pyproject.toml and this file the pip
# steps are skipped. It is named after the llama.cpp build, so a virtual machine that wakes up on
# another CPU gets the build for that CPU at the next `make setup` instead of an illegal instruction.
STAMP            := $(VENV)/.setup-stamp-$(notdir $(LLAMA_WHEELS))

# One line per step of make setup, with the seconds since it started: `==> step [12 s]`.
SETUP_T0         := $(shell date +%s)
step              = echo "==> $(1) [$$(( $$(date +%s) - $(SETUP_T0) )) s]"

setup: $(STAMP)
	@$(call step,models: fetch and verify)
	$(BIN)/rag models fetch
	@$(call step,chunk store and indexes)
	$(BIN)/rag index
	@$(call step,setup done)

# The llama.cpp build (minutes, on both cores) runs beside the rest of the set-up, which mostly waits
# on the network: every other dependency, the package, and the models (`rag models fetch` needs the
# package, not llama-cpp-python). The wheel goes in last, then one install of the package with its
# extras checks that everything fits.
$(STAMP): pyproject.toml Makefile $(LLAMA_LEAN_CMAKE)
	@$(call step,virtualenv $(VENV))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(MAKE) --no-print-directory -j2 SETUP_T0=$(SETUP_T0) llama-wheel python-deps
	@$(call step,llama-cpp-python: install the wheel)
	$(BIN)/python -m pip install --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	@$(call step,the package with its test extras)
	$(BIN)/python -m pip install -e ".[test]"
	touch $@

# The wheel, built into the cache unless it is there; the compiler's output goes to $(LLAMA_LOG)
# (`tail -f` it to follow the build), and its last lines to the terminal if the build fails.
.PHONY: llama-wheel python-deps
llama-wheel:
	@if ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  $(call step,llama-cpp-python $(LLAMA_VERSION): cached in $(LLAMA_WHEELS)); \
	else \
	  $(call step,llama-cpp-python $(LLAMA_VERSION): building (about 3 minutes on 2 idle cores; log: $(LLAMA_LOG))); \
	  rm -rf $(LLAMA_WHEELS).tmp; \
	  if CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip wheel --verbose \
	       --no-deps --no-cache-dir -w $(LLAMA_WHEELS).tmp llama-cpp-python==$(LLAMA_VERSION) >$(LLAMA_LOG) 2>&1; then \
	    rm -rf $(LLAMA_WHEELS) && mv $(LLAMA_WHEELS).tmp $(LLAMA_WHEELS); \
	    $(call step,llama-cpp-python $(LLAMA_VERSION): built); \
	  else \
	    tail -n 30 $(LLAMA_LOG) >&2; echo "llama-cpp-python $(LLAMA_VERSION) did not build; the whole log: $(LLAMA_LOG)" >&2; \
	    exit 1; \
	  fi; \
	fi

# Every dependency but llama-cpp-python, then the package without its dependencies: enough for
# `rag models fetch`. torch goes first and pinned: the CPU wheel lies on this machine's disk (pip
# find-links), while an unpinned install through sentence-transformers would pull a multi-GB CUDA build.
python-deps:
	@$(call step,torch (CPU build))
	$(BIN)/python -m pip install --quiet torch==2.13.0
	@$(call step,dependencies but llama-cpp-python)
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
	  print("\n".join(r for r in p["dependencies"] + p["optional-dependencies"]["test"] if not r.startswith("llama-cpp-python")))' \
	  >$(VENV)/requirements-but-llama.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements-but-llama.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@$(call step,models: fetch and verify (while llama.cpp builds))
	$(BIN)/rag models fetch

test:
	@test -x $(BIN)/python || { echo "no $(VENV); run 'make setup' first" >&2; exit 1; }
	$(BIN)/python -m pytest -q

# Style and types: the formatter's check, the linter and the type checker, all configured in pyproject.toml.
lint:
	@test -x $(BIN)/ruff || { echo "no $(BIN)/ruff; run 'make setup' first" >&2; exit 1; }
	$(BIN)/ruff format --check rag api tests
	$(BIN)/ruff check rag api tests
	$(BIN)/mypy

# The web page's tests drive the system's Chromium with selenium (no browser download); a CJK font
# makes their screenshots legible. Debian package names; needs root.
browser:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver fonts-wqy-zenhei

# The shared library's store (RAG_STORE__URL=postgresql://...) is tested against Debian's PostgreSQL:
# each test run starts a throw-away server of its own (rag/deploy/postgres_server.py), so the cluster
# the package makes (main, port 5432) is stopped and left to start by hand. A no-op when installed.
services:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "PostgreSQL is installed: $$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"; \
	else \
	  apt-get update; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; \
	  pg_lsclusters -h | while read -r version cluster _; do \
	    pg_ctlcluster "$$version" "$$cluster" stop 2>/dev/null || true; \
	    sed -i 's/^auto$$/manual/' "/etc/postgresql/$$version/$$cluster/start.conf"; \
	  done; \
	fi

clean-index:
	find index -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf -- {} +

# The HTTP API on 127.0.0.1:8000 (RAG_API_HOST / RAG_API_PORT change it; see api/README.md).
.PHONY: serve
serve:
	@test -x $(BIN)/rag || { echo "no $(VENV); run 'make setup' first" >&2; exit 1; }
	$(BIN)/rag serve

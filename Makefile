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
# The wheel is kept in a per-user cache named after the flags, so a fresh clone on the same machine
# installs it in seconds, and another CPU or a flag change builds its own.
LLAMA_VERSION    := 0.3.36
LLAMA_PORTABLE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_NO_AMX     := -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
CPUINFO          ?= /proc/cpuinfo
LLAMA_AVX512_CPU := $(shell grep -m1 '^flags' $(CPUINFO) 2>/dev/null | tr ' ' '\n' | \
                      grep -cxE 'avx512f|avx512bw|avx512vl|avx512dq|avx512_vnni|avx512vbmi|avx512_bf16')
# AVX-VNNI (the VEX-encoded form) is a separate extension: Intel's recent cores have it, AMD's Zen 4
# has AVX512-VNNI without it, and a build that assumes it dies there with an illegal instruction.
LLAMA_AVX_VNNI   := $(shell grep -m1 '^flags' $(CPUINFO) 2>/dev/null | tr ' ' '\n' | grep -cx 'avx_vnni')
ifeq ($(LLAMA_AVX512_CPU),7)
LLAMA_CMAKE_ARGS := $(LLAMA_PORTABLE) -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON $(if $(filter 1,$(LLAMA_AVX_VNNI)),-DGGML_AVX_VNNI=ON,-DGGML_AVX_VNNI=OFF) $(LLAMA_NO_AMX)
else
LLAMA_CMAKE_ARGS := $(LLAMA_PORTABLE) -DGGML_AVX512=OFF $(LLAMA_NO_AMX)
endif
LLAMA_WHEELS     := $(HOME)/.cache/gov-report-rag/llama-$(LLAMA_VERSION)-$(shell echo '$(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-10)
# Written after a successful install; while it is newer than pyproject.toml and this file the pip
# steps are skipped. It is named after the llama.cpp build, so a virtual machine that wakes up on
# another CPU gets the build for that CPU at the next `make setup` instead of an illegal instruction.
STAMP            := $(VENV)/.setup-stamp-$(notdir $(LLAMA_WHEELS))

setup: $(STAMP)
	$(BIN)/rag models fetch
	$(BIN)/rag index

# torch goes first and pinned: the CPU wheel lies on this machine's disk (pip find-links), while an
# unpinned install through sentence-transformers would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install torch==2.13.0
	if ! ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_VERSION) (several minutes on 2 cores)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
	    $(BIN)/python -m pip wheel --no-deps --no-cache-dir -w $(LLAMA_WHEELS).tmp llama-cpp-python==$(LLAMA_VERSION); \
	  rm -rf $(LLAMA_WHEELS) && mv $(LLAMA_WHEELS).tmp $(LLAMA_WHEELS); \
	fi
	$(BIN)/python -m pip install --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BIN)/python -m pip install -e ".[test]"
	touch $@

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

# gov-report-rag: set up, test, housekeeping.
#
#   make setup        virtualenv + dependencies + models + chunk store + indexes (idempotent)
#   make test         the test suite
#   make clean-index  remove the generated chunk store and indexes (index/*, keeps index/.gitkeep)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Written after a successful install; while it is newer than pyproject.toml the pip steps are skipped.
STAMP  := $(VENV)/.setup-stamp

.PHONY: help setup test clean-index

help:
	@echo "make setup        create .venv, install dependencies, fetch and verify models, build the chunk store and indexes"
	@echo "make test         run the test suite"
	@echo "make clean-index  remove the chunk store under index/"

setup: $(STAMP)
	$(BIN)/rag models fetch
	$(BIN)/rag index

# torch goes first and pinned: the CPU wheel lies on this machine's disk (pip find-links), while an
# unpinned install through sentence-transformers would pull a multi-GB CUDA build.
# llama-cpp-python builds from source the first time (~7 min on 2 cores); pip caches the wheel.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install torch==2.13.0
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip install -e ".[test]"
	touch $@

test:
	@test -x $(BIN)/python || { echo "no $(VENV); run 'make setup' first" >&2; exit 1; }
	$(BIN)/python -m pytest -q

clean-index:
	find index -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf -- {} +

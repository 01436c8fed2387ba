# make eval: run the project's own eval suites (offline, no API key).
# make test: install everything from this repository's files and run the test suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Offline by design: litellm uses its bundled cost map, Hugging Face never reaches a hub,
# hnswlib builds portable code so a cached wheel runs on any x86-64 machine.
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HNSWLIB_NO_NATIVE := 1
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

STAMP := $(VENV)/.mleval-installed

.PHONY: eval test lint typecheck install bench clean

$(PY):
	python3 -m venv $(VENV)

# torch is pinned to exactly 2.13.0 and installed first: any looser spec pulls a
# multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[dev,all]" "torch==2.13.0"
	# confseq, the tests' reference for confidence sequences, builds a C++ extension whose
	# sdist pins a pybind11 older than Python 3.11 and needs Boost headers: it is built here
	# against a current pybind11 and the boost-headers wheel, without build isolation.
	$(PIP) install -q "pybind11>=2.11" scikit-build cmake boost-headers
	BOOST=$$($(PY) -c 'import boost_headers; print(boost_headers.get_include())') && \
		CMAKE_ARGS="-DBoost_INCLUDE_DIR=$$BOOST" CPLUS_INCLUDE_PATH="$$BOOST" \
		$(PIP) install -q --no-build-isolation "confseq==0.0.11"
	touch $(STAMP)

install: $(STAMP)

eval: $(STAMP)
	$(PY) -m pytest evals/ -p no:cacheprovider

lint: $(STAMP)
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(PY) -m mypy

test: $(STAMP) lint typecheck
	bash scripts/ensure_system_deps.sh
	$(PY) -m pytest tests -n 2 -p no:cacheprovider -q -m "slow or not slow"

bench: $(STAMP)
	for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .mleval reports/*.json reports/*.html reports/*.md

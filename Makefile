# The two commands in the README: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install system-deps bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# nmap (scans) and tcpdump (compiles BPF filters for the packet sensor); iproute2 for test namespaces.
# chromium for the browser tests (Playwright drives it; it never downloads a browser of its own).
# Reports: WeasyPrint's libraries (Pango, HarfBuzz subsetting), the DejaVu fonts the reports and charts
# use, poppler-utils (pdftotext/pdftoppm in the report tests), chromium (charts checked under a CSP).
system-deps:
	@missing=""; \
	command -v nmap >/dev/null 2>&1 || missing="$$missing nmap"; \
	command -v tcpdump >/dev/null 2>&1 || missing="$$missing tcpdump"; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	command -v logger >/dev/null 2>&1 || missing="$$missing bsdutils"; \
	for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils chromium; do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Run the service on the embedded SQLite store; writes an example config on first run.
run: $(STAMP) system-deps
	@test -f sentinel.yaml || $(BIN)/sentinel init .
	$(BIN)/sentinel --config sentinel.yaml serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The whole test suite: lint, types, layering, then every test.
test: $(STAMP) system-deps lint
	$(BIN)/pytest -q

bench: $(STAMP) system-deps
	@for script in benchmarks/[a-z]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache

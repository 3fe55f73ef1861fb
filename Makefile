# The two commands: `make demo` and `make test`. Both set everything up on a fresh machine
# (Python venv, then Kafka from Maven Central, Redis and PostgreSQL from apt, all cached).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml devtools/pyproject.toml | sha1sum | cut -c1-12)

# Deployment checks (helm lint/template, compose-spec) use pinned tools, cached across runs.
TOOLS := $(HOME)/.cache/govbus/tools
HELM_VERSION := v3.16.4
HELM := $(TOOLS)/helm-$(HELM_VERSION)
COMPOSE_GO_VERSION := v2.4.9
COMPOSE_SCHEMA := $(TOOLS)/compose-spec-$(COMPOSE_GO_VERSION).json
# promtool (checks the alert rules and the dashboards' queries) from Debian's prometheus
# package: building it from the Go module proxy takes over an hour on this kind of machine.
PROMTOOL := /usr/bin/promtool
# Grafana's dashboard schema as TypeScript types generated from its CUE kinds (@grafana/schema,
# the Prometheus query from @grafana/prometheus, the version compose runs), checked with tsc.
GRAFANA_VERSION := 11.3.0
TYPESCRIPT_VERSION := 5.9.3
GRAFANA_SCHEMA := $(TOOLS)/grafana-schema-$(GRAFANA_VERSION)
DEPLOY_ENV := GOVBUS_HELM=$(HELM) GOVBUS_COMPOSE_SCHEMA=$(COMPOSE_SCHEMA) GOVBUS_PROMTOOL=$(PROMTOOL) \
  GOVBUS_GRAFANA_SCHEMA=$(GRAFANA_SCHEMA)
# `make test` spreads the test files over TEST_PROCS processes (pytest-xdist, a file stays in one
# process); each starts a runtime of its own once (tests/conftest.py shifts its ports).
TEST_PROCS ?= 2

.PHONY: setup browser demo test soak lint check unit tools deploy-check up down status clean help
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(STAMP) browser  ## create the venv and install govbus, its dev tools and devtools/ (local runtime, demo)

browser: $(STAMP)  ## Debian's chromium for the console's browser tests (apt, only when missing)
	@$(BIN)/govbus dev browser

$(STAMP): pyproject.toml devtools/pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	    echo "python venv module missing: installing python3-venv"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	    rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }; \
	fi
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]' -e ./devtools
	rm -f $(VENV)/.installed-*
	touch $@

demo: setup  ## start the local runtime and run the demo scenarios
	$(BIN)/govbus dev up
	$(BIN)/govbus demo --json demo-report.json --html demo-report.html

lint: setup  ## ruff (lint + format), mypy strict, the import contract, the schema evolution gate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/govbus schemas check

check: lint unit  ## the fast inner loop: lint, types, import contract, unit tests (no services)

unit: setup  ## only the unit tests (no services)
	$(BIN)/pytest -n $(TEST_PROCS) tests/unit

tools: $(HELM) $(COMPOSE_SCHEMA) $(PROMTOOL) $(GRAFANA_SCHEMA)/.installed  ## pinned helm (built from the Go module proxy), the compose-spec schema, promtool (apt), Grafana's dashboard schema (npm)

$(HELM):
	@command -v go >/dev/null || { echo "Go is needed to build helm from the Go module proxy"; exit 1; }
	mkdir -p $(TOOLS)/gobin
	GOBIN=$(TOOLS)/gobin GOFLAGS=-mod=mod go install \
	  -ldflags "-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)" \
	  helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(TOOLS)/gobin/helm $@

$(PROMTOOL):
	command -v apt-get >/dev/null || { echo "promtool: install Debian's prometheus package (or set PROMTOOL)"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus

# @grafana/prometheus is unpacked alone (npm pack): only its generated query type is used, not
# the React plugin that its dependencies make up.
$(GRAFANA_SCHEMA)/.installed:
	@command -v npm >/dev/null || { echo "npm is needed to fetch Grafana's dashboard schema"; exit 1; }
	rm -rf $(GRAFANA_SCHEMA) && mkdir -p $(GRAFANA_SCHEMA)
	cd $(GRAFANA_SCHEMA) && npm install -q --no-audit --no-fund --ignore-scripts \
	  @grafana/schema@$(GRAFANA_VERSION) typescript@$(TYPESCRIPT_VERSION)
	cd $(GRAFANA_SCHEMA) && npm pack -q @grafana/prometheus@$(GRAFANA_VERSION) \
	  && mkdir -p node_modules/@grafana/prometheus && tar xzf grafana-prometheus-$(GRAFANA_VERSION).tgz -C node_modules/@grafana/prometheus \
	    --strip-components=1 && rm grafana-prometheus-$(GRAFANA_VERSION).tgz
	touch $@

$(COMPOSE_SCHEMA):
	@command -v go >/dev/null || { echo "Go is needed to fetch the compose-spec schema"; exit 1; }
	mkdir -p $(TOOLS)
	dir="$$(GOFLAGS=-mod=mod go mod download -json github.com/compose-spec/compose-go/v2@$(COMPOSE_GO_VERSION) \
	  | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"; \
	  cp "$$dir/schema/compose-spec.json" $@.tmp && mv $@.tmp $@

deploy-check: setup tools  ## helm lint + template against Kubernetes schemas, compose-spec, settings drift
	$(DEPLOY_ENV) $(BIN)/pytest tests/deploy

test: lint tools  ## everything: lint, types, then every test against a real runtime of its own (not the soak)
	GOVBUS_REQUIRE_INTEGRATION=1 $(DEPLOY_ENV) $(BIN)/pytest -m "not soak" \
	  -n $(TEST_PROCS) --dist loadfile --durations=25

soak: setup  ## the fault suite on a 3-broker cluster under load (minutes; results in docs/soak.md)
	GOVBUS_REQUIRE_INTEGRATION=1 $(BIN)/pytest -m soak -s -p no:cacheprovider 2>&1 \
	  | grep -v '^%[0-9]|' | tee soak-report.txt

up: setup  ## start the local runtime
	$(BIN)/govbus dev up

down: setup  ## stop the local runtime
	$(BIN)/govbus dev down

status: setup  ## show the local runtime
	$(BIN)/govbus dev status

clean:  ## remove the venv and caches (the Kafka download in ~/.cache/govbus stays)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Two commands matter: `make run` (set up, generate demo data, serve) and `make test` (set up, test).
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= data/demo
ROWS ?= 1000000
DAYS ?= 30
export DASHAPP_DATA_DIR ?= $(DATA)
# The alert states and history of these data: a new demo starts them over.
export DASHAPP_STATE_DIR ?= $(DATA).state

.PHONY: setup lock demo run test docker-test lint browser axe redis prometheus alertmanager nginx podman bench load clean \
	vendor-plotly

# Every package from uv.lock, checked against its hashes; uv itself (pinned) only turns the lock into pip's format.
UV_VERSION := 0.13.8
$(VENV)/.installed: uv.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(VENV)/bin/uv export --quiet --frozen --all-extras --group dev --no-emit-project --no-header \
		--output-file $(VENV)/requirements.lock
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(VENV)/requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

# After editing pyproject.toml's dependencies: resolve again, keeping every other pin (`uv lock --upgrade-package
# NAME` moves one package on, `uv lock --upgrade` all of them).
lock: setup
	$(VENV)/bin/uv lock

# The demo ends when it is generated; regenerate it when it is more than 6 hours old.
demo: setup
	@if [ -z "$$(find $(DATA)/predictions -maxdepth 0 -mmin -360 2>/dev/null)" ]; then \
		$(VENV)/bin/dashapp demo --out $(DATA) --rows $(ROWS) --days $(DAYS) && rm -rf $(DASHAPP_STATE_DIR); \
	fi

# gunicorn and, beside it, the alert scheduler (dashapp serve starts and stops both).
run: demo
	@echo "serving $(DATA) at http://$${DASHAPP_BIND:-127.0.0.1:8050}"
	$(VENV)/bin/dashapp serve

# Debian's chromium and chromium-driver for the browser tests (Playwright drives the system browser).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

# axe-core (package-lock.json) for tests/browser/test_accessibility.py, which injects it into every page; Debian's
# nodejs and npm install it when npm is missing.
axe: node_modules/axe-core/axe.min.js
node_modules/axe-core/axe.min.js: package.json package-lock.json
	@command -v npm >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	npm ci --no-audit --no-fund --silent
	touch $@

# Debian's redis-server for the cache-outage tests, which start and stop their own on a free port (no service).
redis:
	@command -v redis-server >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# Debian's prometheus and promtool for tests/browser/test_prometheus.py, which starts its own on a free port
# (without the node exporter Debian recommends with it).
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

# Debian's prometheus-alertmanager for the Alertmanager tests, which start and stop their own on a free port.
alertmanager:
	@command -v prometheus-alertmanager >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager; }

# Debian's podman, runc and debootstrap for the image test: no Docker engine runs here, and registries are out of
# reach, so the test makes its base image from Debian's packages.
podman:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap; }

# Debian's nginx for tests/browser/test_subpath.py, which runs its own in the foreground on a free loopback port
# in front of gunicorn (the package's own service is not used).
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx; }

lint: setup
	$(VENV)/bin/ruff check dashapp tests
	$(VENV)/bin/ruff format --check dashapp tests
	$(VENV)/bin/hadolint Dockerfile

# Two pytest workers, whole modules each (--dist loadfile keeps a module's shared servers in one worker): most of
# the suite's time is servers and browsers waiting, so two cores run it in about half the time.
TEST_WORKERS ?= 2
test: setup browser axe redis prometheus alertmanager nginx lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# Builds the image (the Chromium variant) and runs it: minutes, so apart from `make test`.
docker-test: setup podman
	$(PY) -m pytest -m docker tests/docker

bench: setup
	$(PY) tests/bench/bench_queries.py

# Load test (tests/bench/load_test.py): locust in its own venv, its pins clash with the app's.
# make load DATA=data/bench-10000000 USERS=50 DURATION=60; HOSTS=2: two servers on one Redis behind nginx
LOAD_VENV := .venv-load
USERS ?= 50
DURATION ?= 60
$(LOAD_VENV)/.installed: tests/bench/requirements-load.txt
	python3 -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/python -m pip install --quiet -r tests/bench/requirements-load.txt
	touch $@

HOSTS ?= 1
load: setup browser $(LOAD_VENV)/.installed
	$(PY) tests/bench/load_test.py --data $(DATA) --users $(USERS) --time $(DURATION) --hosts $(HOSTS) \
		--locust $(LOAD_VENV)/bin/locust

# The strict plotly.js the portal serves is vendored (dashapp/plotlyjs.py says why), so neither the wheel nor `make
# run` needs npm. After a plotly upgrade (plotly.offline.get_plotlyjs_version() moved on): set the version and the
# integrity `npm view plotly.js-strict-dist-min@VERSION dist.integrity` prints, run this, then update VERSION in
# dashapp/plotlyjs.py and delete the old file. The tarball is checked against the integrity before anything is kept.
PLOTLY_STRICT_VERSION := 4.1.1
PLOTLY_STRICT_INTEGRITY := sha512-/M2gRAF8LeqafKIO/bUU+DQk7RlonVbwpPb2G/jZsfqCl/DttBfvF+wQfZ6vT9y9EKy47eDI/zfIWC/uA1L6TQ==
vendor-plotly:
	@command -v npm >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	rm -rf build/plotly-strict && mkdir -p build/plotly-strict
	cd build/plotly-strict && npm pack --silent plotly.js-strict-dist-min@$(PLOTLY_STRICT_VERSION)
	python3 -c 'import base64, hashlib, pathlib, sys; \
		data = pathlib.Path(sys.argv[1]).read_bytes(); \
		got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(); \
		sys.exit(0 if got == sys.argv[2] else f"integrity mismatch: {got}")' \
		build/plotly-strict/plotly.js-strict-dist-min-$(PLOTLY_STRICT_VERSION).tgz $(PLOTLY_STRICT_INTEGRITY)
	tar -xzf build/plotly-strict/plotly.js-strict-dist-min-$(PLOTLY_STRICT_VERSION).tgz -C build/plotly-strict
	cp build/plotly-strict/package/plotly-strict.min.js dashapp/static/vendor/plotly-strict-$(PLOTLY_STRICT_VERSION).min.js

clean:
	rm -rf $(VENV) $(LOAD_VENV) node_modules tests/artifacts .pytest_cache

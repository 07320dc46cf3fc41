# dashapp served by gunicorn, as a non-root user, from a read-only data directory.
#   docker build -t dashapp .                               # PNG/SVG export answers 501
#   docker build -t dashapp --build-arg WITH_CHROMIUM=1 .   # + Debian's Chromium (about 300 MB more)
#   docker run -p 8050:8050 -v "$PWD/data/demo:/data:ro" dashapp
# README's "Docker" section has the rest (Redis, read-only root file system). Linted by `make lint` (hadolint).
# The base, pinned by digest (the tag's multi-platform index) so every build starts from the same bytes:
# python:3.11.14-slim-bookworm. Any Debian bookworm with python3 (3.11) and python3-venv, and `python` on the PATH,
# serves too: tests/docker builds on one made with debootstrap, through this argument.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# Build stage: dashapp's wheel, and a virtualenv (outside any source tree, so the runtime stage copies one folder)
# with the lock's packages, each checked against its hash, and the wheel installed (not editable) on top.
FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.8
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# uv only turns the lock into pip's format: pip installs what it exports, each package checked against its hash.
RUN python -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# The image's extras: Redis (cache, store, lock), Celery, PNG/SVG export (which also needs WITH_CHROMIUM=1) and
# logs on S3.
RUN /opt/uv/bin/uv export --frozen --no-dev --extra redis --extra celery --extra export --extra s3 \
        --no-emit-project --no-header --output-file /tmp/requirements.lock \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.lock
COPY dashapp ./dashapp
COPY queries ./queries
COPY assets ./assets
# pip builds the wheel (with the build backend pyproject.toml pins): uv's own resolver fails to connect from
# podman's chroot builds here, while pip's works.
RUN /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/dist . \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /tmp/dist/dashapp-*.whl

FROM ${PYTHON_IMAGE}
ARG WITH_CHROMIUM=0
# A fixed UID/GID, so a host folder or volume can be given to the same user everywhere.
ARG APP_UID=10001
ARG APP_GID=10001
# DL3008: Debian's mirror keeps only the current version of a package (security updates replace
# the old ones), so a pinned chromium version would break the build at its next update.
# hadolint ignore=DL3008
RUN if [ "$WITH_CHROMIUM" = "1" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends chromium fonts-liberation \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid "$APP_GID" dashapp \
    && useradd --system --uid "$APP_UID" --gid "$APP_GID" --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin dashapp \
    && mkdir -p /data /var/cache/dashapp /var/lib/dashapp \
    && chown "$APP_UID:$APP_GID" /var/cache/dashapp /var/lib/dashapp
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DASHAPP_DATA_DIR=/data \
    DASHAPP_CACHE_DIR=/var/cache/dashapp \
    DASHAPP_STATE_DIR=/var/lib/dashapp \
    DASHAPP_BIND=0.0.0.0:8050
# The venv (dashapp with its queries, assets and gunicorn settings inside) stays root's, readable but not writable
# by the app: only the cache and state folders are its own.
COPY --from=builder /opt/venv /opt/venv
WORKDIR /var/lib/dashapp
# /data is mounted read-only; the cache folder (FileSystemCache, DuckDB spill files) should be writable:
# an anonymous volume by default, or a tmpfs (see README); the portal serves uncached when it is not.
# Prometheus counters go to /dev/shm (DASHAPP_METRICS_DIR).
VOLUME ["/data", "/var/cache/dashapp", "/var/lib/dashapp"]
USER ${APP_UID}:${APP_GID}
EXPOSE 8050
# Ready, not only alive: /readyz answers 503 while the data folder cannot be read. The port comes from DASHAPP_BIND,
# the path under DASHAPP_URL_PREFIX. No curl in a slim image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['DASHAPP_BIND'].rsplit(':', 1)[1]; prefix = os.environ.get('DASHAPP_URL_PREFIX', '/'); urllib.request.urlopen(f'http://127.0.0.1:{port}{prefix}readyz', timeout=4)"]
# gunicorn and the alert scheduler beside it (dashapp serve starts, restarts and stops both; with
# DASHAPP_CELERY_BROKER_URL set, gunicorn alone: Celery beat and workers do the scheduler's work).
CMD ["dashapp", "serve"]

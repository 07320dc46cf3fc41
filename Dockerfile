# dashapp served by gunicorn, as a non-root user, from a read-only data directory.
#   docker build -t dashapp .                               # PNG/SVG export answers 501
#   docker build -t dashapp --build-arg WITH_CHROMIUM=1 .   # + Debian's Chromium (about 300 MB more)
#   docker run -p 8050:8050 -v "$PWD/data/demo:/data:ro" dashapp
# README's "Docker" section has the rest (Redis, read-only root file system). Linted by `make lint` (hadolint).
# The tag pins Python and Debian; pin the digest too (python:3.11.14-slim-bookworm@sha256:...) where builds must repeat.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Build stage: the virtualenv, outside the source tree, so the runtime stage copies one folder.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
# Editable: dashapp finds queries/ and assets/ beside its package folder, which the runtime stage puts at /app.
COPY pyproject.toml ./
COPY dashapp ./dashapp
RUN pip install --no-cache-dir --no-deps -e .

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
# Code and venv stay root's, readable but not writable by the app: only the cache folder is its own.
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY pyproject.toml gunicorn.conf.py ./
COPY dashapp ./dashapp
COPY queries ./queries
COPY assets ./assets
# /data is mounted read-only; the cache folder (FileSystemCache, DuckDB spill files) should be writable:
# an anonymous volume by default, or a tmpfs (see README); the portal serves uncached when it is not.
# Prometheus counters go to /dev/shm (DASHAPP_METRICS_DIR).
VOLUME ["/data", "/var/cache/dashapp", "/var/lib/dashapp"]
USER ${APP_UID}:${APP_GID}
EXPOSE 8050
# Liveness only (/healthz does no heavy work); the port comes from DASHAPP_BIND. No curl in a slim image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['DASHAPP_BIND'].rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
# gunicorn and the alert scheduler beside it (dashapp serve starts, restarts and stops both; with
# DASHAPP_CELERY_BROKER_URL set, gunicorn alone: Celery beat and workers do the scheduler's work).
CMD ["dashapp", "serve"]

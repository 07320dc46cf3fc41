# dashapp served by gunicorn. Mount the parquet logs at /data (read-only is enough).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DASHAPP_DATA_DIR=/data \
    DASHAPP_CACHE_DIR=/var/cache/dashapp \
    DASHAPP_BIND=0.0.0.0:8050

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY pyproject.toml gunicorn.conf.py ./
COPY dashapp ./dashapp
COPY queries ./queries
COPY assets ./assets
# Editable, so the package finds queries/ and assets/ beside it.
RUN pip install --no-cache-dir --no-deps -e . \
    && useradd --system --no-create-home dashapp \
    && mkdir -p /var/cache/dashapp && chown dashapp /var/cache/dashapp
USER dashapp
EXPOSE 8050
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8050/healthz', timeout=3)"
CMD ["gunicorn", "--config", "gunicorn.conf.py"]

# The platform image: `codist serve` (API) and `codist worker` (planning jobs) run from it.
FROM python:3.11-slim
# NUMBA_CACHE_DIR: the routing search is compiled at build time (codist warm-up) into a
# cache the service user can read and write, since site-packages is read-only to it.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CODIST_HOME=/var/lib/codist \
    NUMBA_CACHE_DIR=/var/cache/codist/numba
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY routing routing
COPY dispatch dispatch
COPY api api
COPY simulations simulations
COPY data data
RUN pip install --no-cache-dir . \
    && useradd --system --create-home --home-dir /var/lib/codist codist \
    && codist warm-up \
    && chown -R codist /app/data /var/cache/codist
USER codist
EXPOSE 8000
CMD ["codist", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

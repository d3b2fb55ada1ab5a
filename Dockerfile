# The platform image: `codist serve` (API) and `codist worker` (planning jobs) run from it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CODIST_HOME=/var/lib/codist
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
    && chown -R codist /app/data
USER codist
EXPOSE 8000
CMD ["codist", "serve", "--host", "0.0.0.0", "--port", "8000"]

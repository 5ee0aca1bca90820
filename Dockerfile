# Switchboard: one image, run as a non-root user; migrations run at start, then the app
# is served as `make run` serves it: config/serve.py, WEB_CONCURRENCY uvicorn workers (by
# default one per core the container may use; set it under a --cpus quota).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ENV_FILE= \
    DATABASE_URL=sqlite:////data/db.sqlite3 \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000

WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# collectstatic needs settings to load; these throwaway secrets exist only for this step.
RUN SECRET_KEY=collectstatic-only \
    FIELD_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput -v 0

# /shared/uni-api: where docker-compose.yml mounts the api.yaml a sync writes; a new volume
# takes this folder's owner.
RUN useradd --create-home --uid 10001 switchboard \
    && mkdir -p /data /shared/uni-api \
    && chown switchboard /data /shared/uni-api
USER 10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=4)"]

# exec: the supervisor is PID 1, so `docker stop`'s SIGTERM stops every worker.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec python -m config.serve --host 0.0.0.0 --port \"$PORT\""]

# One image for both process kinds: the web server (default command) and the Celery worker
# (`celery -A project worker`). Build: docker build -t live-files .
# /data/static is where compose's `migrate` collects the static files nginx serves (owned by
# `app` so that the named volume mounted there is writable).

# --- the live page (frontend/, TypeScript + Vite) ------------------------------------------
FROM node:20-slim AS frontend
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
# The page's TypeScript types are generated from the schema snapshot (frontend/codegen.ts).
COPY schema.graphql /schema.graphql
RUN npm run build

# --- Python dependencies -------------------------------------------------------------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements.txt /tmp/requirements.txt
RUN /venv/bin/pip install -r /tmp/requirements.txt

# --- runtime -------------------------------------------------------------------------------
FROM python:3.11-slim
# FORWARDED_ALLOW_IPS: whose X-Forwarded-For uvicorn believes (--proxy-headers): the proxy's
# addresses only, never "*" (any client could choose the address the login throttle counts).
# Loopback by default; compose sets its proxy's network, a cluster its ingress's.
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/static \
    FORWARDED_ALLOW_IPS=127.0.0.1
RUN useradd --create-home --uid 10001 app \
 && mkdir -p /data/media/.incoming /data/static /app \
 && chown -R app:app /data
COPY --from=builder /venv /venv
WORKDIR /app
COPY --chown=app:app . /app
COPY --from=frontend --chown=app:app /frontend/dist /app/frontend/dist
# A throwaway key: collectstatic needs settings to load, nothing is signed at build time.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput -v 0
USER app
VOLUME ["/data/media"]
EXPOSE 8000
# Liveness of the web server: /healthz touches no dependency, so a database outage does not
# get a healthy process restarted. Compose checks /readyz instead (docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
# No per-message compression: ~40 KiB per open websocket for ~100-byte events
# (docs/live-connection-cost.md); a client's message (graphql-transport-ws: a few hundred
# bytes) capped at 1 MiB, not uvicorn's 16 MiB; the sans-I/O protocol with what drops a
# client that stops reading (schema/live/protocol.py); X-Forwarded-* believed from
# FORWARDED_ALLOW_IPS alone. The same options as tools/processes.py's (tests/ops/test_deploy.py
# compares them).
CMD ["uvicorn", "project.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", \
     "--ws-max-size", "1048576", "--ws", "schema.live.protocol:LiveWebSocketProtocol", \
     "--ws-per-message-deflate", "false", "--ws-ping-interval", "20", "--ws-ping-timeout", "20"]

# hotline-router: the routing daemon, as a slim image that runs as a non-root user.
#
#   docker build -f docker/router.Dockerfile -t hotline-router .     (from the repository root)
#   podman build --format docker -f docker/router.Dockerfile -t hotline-router .
#   docker run --network host -e DATABASE_URL=… -e ARI_URL=… -e ARI_PASSWORD=… hotline-router
#
# podman builds OCI images unless told --format docker, and the OCI format has
# no HEALTHCHECK: without it the check below is silently dropped.
#
# Behind a TLS-inspecting proxy, give pip the proxy's CA certificate as a
# build secret (Docker and podman alike):
#   docker build --secret id=pip_cert,src=/etc/ssl/certs/proxy-ca.crt -f … .
# A package mirror: --build-arg PIP_INDEX_URL=https://mirror.example/simple
#
# Settings come from environment variables or a TOML file (HOTLINE_ROUTER_CONFIG);
# see docs/operations.md. Debian stable's Python 3.11 runs it.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/hotline-router
# A package mirror (--build-arg PIP_INDEX_URL=…) reaches only this build stage.
# PIP_CERT names a file *inside* the build: with Docker that is only the
# pip_cert secret (above); podman may also mount one (--volume) and name it.
ARG PIP_INDEX_URL
ARG PIP_CERT
# Dependencies first, in their own layer: a code change does not download them again.
COPY pyproject.toml /src/
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    /opt/hotline-router/bin/python -c "import tomllib, subprocess, sys; \
deps = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--no-cache-dir', \
                       '--disable-pip-version-check', *deps])"
COPY README.md /src/
COPY router /src/router
COPY strategies /src/strategies
COPY migrations /src/migrations
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    /opt/hotline-router/bin/pip install --no-cache-dir --disable-pip-version-check \
      --no-deps /src \
 && /opt/hotline-router/bin/pip uninstall -y pip setuptools >/dev/null

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /nonexistent \
      --shell /usr/sbin/nologin hotline-router \
 && install -d -o hotline-router -g hotline-router /var/lib/hotline-router/spool
COPY --from=build /opt/hotline-router /opt/hotline-router
# Logs are JSON when stderr is not a terminal. /healthz, /readyz and /metrics
# listen on 127.0.0.1:8095 unless HTTP_LISTEN says otherwise (e.g. 0.0.0.0:8095
# on a bridge network, for Prometheus).
ENV PATH=/opt/hotline-router/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Call records wait in the spool while the database is away: keep it on a volume.
VOLUME /var/lib/hotline-router
USER hotline-router:hotline-router
EXPOSE 8095
# SIGTERM drains: no new calls, live ones finish (up to DRAIN_TIMEOUT_S, default
# 300 s). Give the container at least that long to stop (compose: stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["python3", "-c", "import os, sys, urllib.request; \
port = os.environ.get('HTTP_LISTEN', '127.0.0.1:8095').rpartition(':')[2]; \
sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["hotline-router"]
CMD ["run"]

# Kenshō's production image. It talks to real PostgreSQL and Redis given by URL: the embedded
# servers of `kensho[embedded]` are not installed, and starting without a URL is a one-line error.
#
#   docker build -t kensho:0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Every third-party package is installed from requirements/*.lock (pinned, hash-checked; `make
# lock` regenerates them), so two builds of one commit install the same files.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: the kensho wheel, then a virtualenv of the lock plus that wheel ------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
WORKDIR /src
COPY requirements/build.lock requirements/image.lock requirements/
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --no-deps -r requirements/build.lock \
 && python -m venv /opt/kensho \
 && /opt/kensho/bin/pip install --require-hashes --no-deps -r requirements/image.lock
COPY pyproject.toml README.md NOTICE ./
COPY migrations ./migrations
COPY kensho ./kensho
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/kensho/bin/pip install --no-deps /wheels/kensho-*.whl \
 && /opt/kensho/bin/pip check \
 && /opt/kensho/bin/pip uninstall --yes setuptools pip

# ---- runtime: the virtualenv only, a non-root user, nothing written outside the data volume ---
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="kensho" \
      org.opencontainers.image.description="Actor-model backend for an anime streaming front end" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
RUN groupadd --system --gid 10001 kensho \
 && useradd --system --uid 10001 --gid kensho --home-dir /var/lib/kensho --no-create-home \
      --shell /usr/sbin/nologin kensho \
 && install -d -o kensho -g kensho -m 0750 /var/lib/kensho
COPY --from=builder /opt/kensho /opt/kensho
# Bytecode was compiled at install time: a read-only root never needs to write any. The data
# dir holds only the fallback signing and encryption keys, which a fleet sets as secrets.
ENV PATH=/opt/kensho/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KENSHO_HOST=0.0.0.0 \
    KENSHO_PORT=8080 \
    KENSHO_DATA_DIR=/var/lib/kensho
VOLUME ["/var/lib/kensho"]
WORKDIR /var/lib/kensho
USER 10001:10001
EXPOSE 8080
# Liveness, without curl: any non-2xx answer or a refused connection raises, so exit status 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('KENSHO_PORT', '8080'), timeout=2)"]
# `kensho serve` drains on SIGTERM: readiness fails, KENSHO_PRESTOP_DELAY, then in-flight work.
STOPSIGNAL SIGTERM
ENTRYPOINT ["kensho"]
CMD ["serve"]

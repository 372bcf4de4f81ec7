# One image for every service; the command picks the service (`connector ingest`, ...).
#
# The base is pinned by digest, the tag beside it for people: the multi-platform index of
# python:3.11-slim (Python 3.11.16 on Debian trixie) as pushed on 2026-08-16. To move to a newer
# build, read the index digest with `docker buildx imagetools inspect python:3.11-slim` and
# build with `--build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest>` (or change it here).
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# Builder: a virtualenv holding the locked dependencies and the project, nothing else.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/connector/bin:$PATH
RUN python -m venv /opt/connector
WORKDIR /src
# Every file pip downloads is checked against the lock's hashes, the build backend among them.
# The image's own lock: the runtime dependencies without the embedded Postgres and broker of
# `connector dev` (production reaches real servers by URL).
COPY requirements/image.txt requirements/image.txt
RUN pip install --require-hashes -r requirements/image.txt
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
# The project itself: no dependency of its own, built by the locked setuptools just installed.
# Only shared/ and services/ are in /src, so only they are installed.
RUN pip install --no-deps --no-build-isolation .

# Production: the virtualenv alone on a clean base, run by a numeric non-root user, so that
# Kubernetes' runAsNonRoot can verify it (a user name it cannot).
FROM ${PYTHON_IMAGE} AS production
ENV PATH=/opt/connector/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A passwd entry for the uid, for libraries that ask who they run as.
RUN groupadd --system --gid 10001 connector \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin connector
COPY --from=builder /opt/connector /opt/connector
WORKDIR /app
USER 10001:10001
CMD ["connector", "--help"]

# Demo: production plus the simulators and the dev harness, for `docker compose --profile demo`
# only (`connector sim coupa|deltek`). Never deploy it.
FROM production AS demo
COPY simulators /opt/harness/simulators
COPY devstack /opt/harness/devstack
ENV PYTHONPATH=/opt/harness

# The default target: a plain `docker build .` gives the production image.
FROM production

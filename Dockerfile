# syntax=docker/dockerfile:1
#
# Container image for the Soda Cloud incidents exporter.
#
#   docker build -t soda-incidents-exporter .
#   docker run --rm --read-only --tmpfs /tmp -p 9877:9877 soda-incidents-exporter --demo
#
# The builder stage turns the source tree into wheels (the project and every dependency); the
# final stage installs those wheels only, offline, and runs as an unprivileged numeric user so it
# works with a read-only root filesystem (the exporter writes nothing outside its temp dir).
# Credentials are never baked in: pass SODA_API_KEY_ID / SODA_API_KEY_SECRET at run time or mount
# files and use --soda.api-key-id-file / --soda.api-key-secret-file.

FROM python:3.12.8-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY exporter ./exporter
RUN python -m pip wheel --wheel-dir /wheels .


FROM python:3.12.8-slim-bookworm

LABEL org.opencontainers.image.title="soda-incidents-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Soda Cloud incidents" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Install from the builder's wheels only: no source tree and no index access in this stage.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install --no-index --find-links /wheels soda-incidents-exporter \
    && /opt/venv/bin/python -m pip uninstall --yes pip

USER 65532:65532
WORKDIR /tmp
EXPOSE 9877

ENTRYPOINT ["soda-incidents-exporter"]

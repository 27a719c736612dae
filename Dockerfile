# syntax=docker/dockerfile:1
#
# Container image for the Soda Cloud incidents exporter.
#
#   docker build -t soda-incidents-exporter .
#   docker run --rm --read-only --tmpfs /tmp -p 9877:9877 soda-incidents-exporter --demo
#
# The builder stage installs the project and its dependencies into a virtualenv and then takes
# pip and setuptools out of it; the final stage copies only that virtualenv onto the same base,
# removes the base's own pip, and runs as an unprivileged numeric user, so it works with a
# read-only root filesystem (the exporter writes nothing outside its temp dir).
# Credentials are never baked in: pass SODA_API_KEY_ID / SODA_API_KEY_SECRET at run time or mount
# files and use --soda.api-key-id-file / --soda.api-key-secret-file.
#
# BASE_IMAGE may name any image with python3 (>= 3.10) and its venv module on PATH; both stages
# use it, because the virtualenv's interpreter is a link to the base's python3.

ARG BASE_IMAGE=python:3.12.8-slim-bookworm

FROM ${BASE_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY exporter ./exporter
# Byte-compiled at install time: the runtime cannot write .pyc files on a read-only root.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install --no-warn-script-location . \
    && /opt/venv/bin/python -m pip uninstall --yes pip setuptools wheel \
    && rm -rf /opt/venv/bin/pip* /opt/venv/bin/activate* /opt/venv/bin/Activate.ps1


FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="soda-incidents-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Soda Cloud incidents" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/soda-incidents-exporter/soda-incidents-exporter"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# The base's installer tooling is never needed at run time: whatever pip, setuptools and
# ensurepip the base ships (Python's own image under /usr/local, Debian's under /usr) goes.
RUN rm -rf /usr/local/bin/pip* /usr/bin/pip* \
        /usr/local/lib/python3*/site-packages/pip /usr/local/lib/python3*/site-packages/pip-* \
        /usr/local/lib/python3*/site-packages/setuptools* /usr/local/lib/python3*/site-packages/pkg_resources \
        /usr/local/lib/python3*/site-packages/_distutils_hack /usr/local/lib/python3*/site-packages/wheel* \
        /usr/local/lib/python3*/ensurepip /usr/lib/python3*/ensurepip \
        /usr/lib/python3/dist-packages/pip /usr/lib/python3/dist-packages/pip-* \
        /usr/lib/python3/dist-packages/setuptools* /usr/lib/python3/dist-packages/pkg_resources \
        /usr/lib/python3/dist-packages/_distutils_hack /usr/lib/python3/dist-packages/wheel* \
        /usr/share/python-wheels

COPY --from=builder /opt/venv /opt/venv

USER 65532:65532
WORKDIR /tmp
EXPOSE 9877

ENTRYPOINT ["soda-incidents-exporter"]

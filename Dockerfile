# syntax=docker/dockerfile:1
# stack-operator: `stackop run` in a slim, non-root image. Dependencies are pinned by
# constraints.txt; the build stage makes wheels, the runtime stage installs only those.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY constraints.txt pyproject.toml README.md ./
COPY controller ./controller
COPY bootstrap ./bootstrap
RUN python -m pip wheel --wheel-dir /wheels -c constraints.txt .

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 STACKOP_PORT=9100 STACKOP_HOST=0.0.0.0
RUN groupadd --system --gid 10001 stackop \
    && useradd --system --uid 10001 --gid stackop --no-create-home --shell /usr/sbin/nologin stackop
COPY --from=build /wheels /wheels
COPY constraints.txt /tmp/constraints.txt
RUN python -m pip install --no-index --find-links /wheels -c /tmp/constraints.txt stack-operator \
    && rm -rf /wheels /tmp/constraints.txt
USER 10001:10001
EXPOSE 9100
STOPSIGNAL SIGTERM
# /healthz on the port and address `stackop run` listens on (STACKOP_PORT, STACKOP_HOST)
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; h = os.environ.get('STACKOP_HOST', '0.0.0.0'); h = '127.0.0.1' if h in ('', '0.0.0.0', '::') else h; h = '[' + h + ']' if ':' in h else h; urllib.request.urlopen('http://' + h + ':' + os.environ.get('STACKOP_PORT', '9100') + '/healthz', timeout=3)"]
ENTRYPOINT ["stackop", "run"]

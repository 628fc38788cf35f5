# The liveblog image. BASE_IMAGE: any Debian-based image with Python 3.11+ and its venv module;
# by default the official python:3.11-slim. The test suite builds its own from Debian packages
# (scripts/base-image), so the same file builds where no registry can be reached.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ENV PATH=/opt/liveblog/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/liveblog && useradd --system --no-create-home liveblog
WORKDIR /app
# The dependencies first, in a layer that changes only with pyproject.toml: a change to the
# code rebuilds the last layer alone.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt hatchling \
    && rm /tmp/requirements.txt
COPY README.md ./
COPY liveblog ./liveblog
COPY web ./web
# The newsroom's guide and its screenshots, served at /newsroom/guide.
COPY docs/newsroom.md ./docs/newsroom.md
COPY docs/screenshots/guide ./docs/screenshots/guide
RUN pip install --no-deps --no-build-isolation . && rm -rf /app/build
USER liveblog
EXPOSE 8000
# Canonical links, og:url, JSON-LD and feeds are built from this, never from the Host header a
# client sends. Set it to the address readers use (e.g. https://live.example.com).
ENV LIVEBLOG_PUBLIC_URL=http://localhost:8000
HEALTHCHECK --interval=10s --timeout=3s CMD python3 -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
# SIGTERM: readers are told to reconnect elsewhere, requests in flight get
# LIVEBLOG_SHUTDOWN_GRACE_SECONDS, and the process is gone 2 s after that whatever Redis does.
STOPSIGNAL SIGTERM
CMD ["liveblog", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

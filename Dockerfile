FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY liveblog ./liveblog
COPY web ./web
RUN pip install --no-cache-dir . && useradd --system liveblog
USER liveblog
EXPOSE 8000
# Canonical links, og:url, JSON-LD and feeds are built from this, never from the Host header a
# client sends. Set it to the address readers use (e.g. https://live.example.com).
ENV LIVEBLOG_PUBLIC_URL=http://localhost:8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
CMD ["liveblog", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

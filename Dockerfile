# Sentinel service image: `docker compose up` builds it (see docker-compose.yml).
FROM python:3.11-slim

# nmap: the scan collector runs the real binary. No compilers: every dependency ships wheels.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nmap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY sentinel ./sentinel
COPY collectors ./collectors
COPY playbooks ./playbooks
COPY dashboards ./dashboards
RUN pip install --no-cache-dir . && rm -rf /src

# A starting configuration; compose overrides keys with SENTINEL_* variables and may mount its own.
RUN mkdir -p /etc/sentinel /var/lib/sentinel \
    && python -c "import shutil, sentinel.examples as e, pathlib; d = pathlib.Path(e.__file__).parent; \
[shutil.copy(d / n, '/etc/sentinel/' + n) for n in ('sentinel.yaml', 'inventory.yaml')]" \
    && useradd --system --home-dir /var/lib/sentinel sentinel \
    && chown -R sentinel /var/lib/sentinel

ENV SENTINEL_DATA_DIR=/var/lib/sentinel \
    SENTINEL_API__HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
USER sentinel
WORKDIR /var/lib/sentinel
EXPOSE 8080 5514/udp 5514/tcp
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
CMD ["sentinel", "--config", "/etc/sentinel/sentinel.yaml", "serve"]

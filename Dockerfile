# nemobot: the chat bot, without the demo extra (no ffmpeg) and without dev dependencies.
# Build: docker build -t nemobot .   Run: see compose.yaml and the README's Docker section.
# The install is scripts/install.sh (the one .ci/run checks): the hash-checked requirements.lock,
# then the project with --no-deps.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
COPY scripts/install.sh ./scripts/
RUN sh scripts/install.sh /opt/nemobot deps
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY store ./store
COPY emulator ./emulator
RUN sh scripts/install.sh /opt/nemobot project

FROM python:3.11-slim
RUN groupadd --gid 10001 nemobot \
    && useradd --create-home --uid 10001 --gid nemobot nemobot \
    && mkdir /data \
    && chown nemobot:nemobot /data
COPY --from=build /opt/nemobot /opt/nemobot
ENV PATH=/opt/nemobot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/nemobot.db \
    HEALTH_PORT=0.0.0.0:8080
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["nemobot"]
CMD ["run"]

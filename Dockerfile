# nemobot: the chat bot, without the demo extra (no ffmpeg) and without dev dependencies.
# Build: docker build -t nemobot .   Run: see compose.yaml and the README's Docker section.

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/nemobot
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY store ./store
COPY emulator ./emulator
RUN /opt/nemobot/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 nemobot && mkdir /data && chown nemobot:nemobot /data
COPY --from=build /opt/nemobot /opt/nemobot
ENV PATH=/opt/nemobot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/nemobot.db \
    HEALTH_PORT=0.0.0.0:8080
USER nemobot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["nemobot"]
CMD ["run"]

# chipwatch: a small image, non-root, state on a volume, config mounted read-only.
# Build stage: build the wheel and install it (with its dependencies) into a virtualenv.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/chipwatch
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /opt/chipwatch/bin/pip install --no-cache-dir . \
    && find /opt/chipwatch -name __pycache__ -type d -prune -exec rm -rf {} + \
    && /opt/chipwatch/bin/python -m compileall -q /opt/chipwatch/lib

# Runtime stage: the virtualenv and the default config, nothing else (no compiler, no pip cache).
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --user-group chipwatch \
    && mkdir -p /app/state /app/config \
    && chown -R chipwatch:chipwatch /app/state
COPY --from=build /opt/chipwatch /opt/chipwatch
COPY config /app/config
WORKDIR /app
USER 10001:10001
# State lives in /app/state: the default config says `../state/chipwatch.db`, relative to
# the config file in /app/config (a relative state.path is taken from the config's folder).
# Mount your own config over /app/config read-only; the token comes from the environment.
ENV PATH=/opt/chipwatch/bin:$PATH \
    CHIPWATCH_CONFIG=/app/config/chipwatch.yaml \
    CHIPWATCH_METRICS_LISTEN=0.0.0.0:9464 \
    PYTHONUNBUFFERED=1
VOLUME ["/app/state"]
EXPOSE 9464
# `chipwatch health` asks the bot's /healthz (fails when the scheduler stalls).
HEALTHCHECK --interval=60s --timeout=15s --start-period=60s --retries=3 \
    CMD ["chipwatch", "health"]
ENTRYPOINT ["chipwatch"]
CMD ["run"]

# chipwatch: a small image, non-root, state on a volume, config mounted read-only.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --user-group chipwatch \
    && mkdir -p /app/state /app/config \
    && chown -R chipwatch:chipwatch /app/state
COPY --from=build /install /usr/local
COPY config /app/config
WORKDIR /app
USER 10001:10001
ENV CHIPWATCH_CONFIG=/app/config/chipwatch.yaml \
    PYTHONUNBUFFERED=1
VOLUME ["/app/state"]
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
    CMD ["chipwatch", "health"]
ENTRYPOINT ["chipwatch"]
CMD ["run"]

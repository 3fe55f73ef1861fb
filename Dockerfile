# syntax=docker/dockerfile:1.7
# One image for every govbus role; the command picks it:
#   streams run (worker) | gateway run | streams init (init job) | outbox relay | ...
# Build:  docker build -t govbus:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- build: wheels for govbus and every dependency (compilers stay in this stage) ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --wheel-dir /wheels .

# ---- runtime: no build tools, no source, a non-root user ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="govbus" \
      org.opencontainers.image.description="Government data-sharing bus: stream worker and gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GOVBUS_STATE_DIR=/var/lib/govbus \
    GOVBUS_DATA_DIR=/var/lib/govbus/faust \
    GOVBUS_GATEWAY_HOST=0.0.0.0 \
    GOVBUS_GATEWAY_PORT=8080
RUN groupadd --system --gid 10001 govbus \
 && useradd --system --uid 10001 --gid govbus --home-dir /var/lib/govbus --shell /usr/sbin/nologin govbus \
 && mkdir -p /var/lib/govbus/faust \
 && chown -R 10001:10001 /var/lib/govbus
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels govbus && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/govbus
EXPOSE 8080
# The gateway by default; the worker's probe is `govbus health worker` (set per service).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["govbus", "health", "gateway"]
ENTRYPOINT ["govbus"]
CMD ["gateway", "run"]

# The serving image: `loopline serve` (KServe transformer and predictor) and nothing of training:
# `.[serving]` alone, so no TFDV, TFMA, Beam or kfp. Built in one stage, copied to a clean one,
# run as a user without rights.
FROM python:3.11-slim-trixie AS build
ENV PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml setup.cfg constraints.txt README.md ./
COPY loopline loopline
COPY components components
COPY pipelines pipelines
RUN python -m venv /opt/venv && pip install -c constraints.txt '.[serving]'

FROM python:3.11-slim-trixie
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    FEAST_FS_YAML_FILE_PATH=/opt/loopline/feature_repo/feature_store.production.yaml \
    LOOPLINE_HOME=/var/lib/loopline
COPY --from=build /opt/venv /opt/venv
COPY feature_repo/*.py feature_repo/*.yaml /opt/loopline/feature_repo/
RUN useradd --uid 10001 --no-create-home loopline && mkdir -p /var/lib/loopline && chown loopline /var/lib/loopline
USER 10001
WORKDIR /opt/loopline
EXPOSE 8080
ENTRYPOINT ["loopline", "serve"]

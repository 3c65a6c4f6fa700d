# The suite image: every KFP component (ingest, load features, transform, validate, train,
# evaluate, push, monitor, judge, policy) and the `loopline` command.
#
# Base: python:3.11-slim-trixie (Debian 13, glibc 2.41). TFDV 1.21's wheels need glibc 2.39+
# (manylinux_2_39) and 1.21 is the release built against TensorFlow 2.21, the pipelines' own: on
# this base TFDV runs beside TensorFlow, TFMA and Beam in one interpreter, where a glibc 2.36
# machine needs a second environment with TFDV 1.16 (README "Why two environments").
FROM python:3.11-slim-trixie

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
WORKDIR /opt/loopline
COPY pyproject.toml setup.cfg constraints.txt README.md ./
COPY loopline loopline
COPY components components
COPY pipelines pipelines
RUN python -m venv /opt/venv \
    && pip install -c constraints.txt '.[training,monitoring,serving]' tensorflow-data-validation==1.21.0
# The Feast definitions; the offline tables are on gs:// (LOOPLINE_FEATURE_DATA, pipelines/platform.py),
# data/ holds only the feature load's lock.
COPY feature_repo/*.py feature_repo/*.yaml feature_repo/
RUN useradd --uid 10001 --create-home loopline && mkdir feature_repo/data && chown loopline feature_repo/data
USER 10001
ENV FEAST_FS_YAML_FILE_PATH=/opt/loopline/feature_repo/feature_store.production.yaml
ENTRYPOINT ["loopline"]

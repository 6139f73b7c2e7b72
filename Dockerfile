# syntax=docker/dockerfile:1
# ceiling-grid Airflow image: the official Airflow 3.3.2 image plus the pinned runtime
# dependencies, the ceiling_grid package and the DAGs. Layers go from least to most often
# changed (requirements -> package -> DAGs) so a DAG edit rebuilds in seconds.
FROM apache/airflow:3.3.2-python3.11

# The base image already runs as the unprivileged "airflow" user (uid 50000, gid 0) and
# installs Python packages into that user's site; say so explicitly for the build steps.
USER 50000:0

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CEILING_GRID_DATA_DIR=/opt/airflow/data

# 1) Runtime dependencies: requirements.txt (every package pinned) with requirements.lock as constraints, so
#    each transitive dependency is the version the tests ran with. The lock is compiled for Python 3.11, the
#    base image's. requirements.txt pins apache-airflow to the image's own version, and AIRFLOW_VERSION (set
#    by the base image) is passed too, so pip never moves Airflow.
COPY --chown=50000:0 requirements.txt requirements.lock /opt/ceiling-grid/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/ceiling-grid/requirements.txt \
        -c /opt/ceiling-grid/requirements.lock

# 2) The ceiling_grid package itself; its dependencies came with requirements.txt above.
COPY --chown=50000:0 pyproject.toml README.md /opt/ceiling-grid/
COPY --chown=50000:0 src/ /opt/ceiling-grid/src/
RUN pip install --no-cache-dir --no-deps /opt/ceiling-grid \
    && mkdir -p /opt/airflow/data/input /opt/airflow/data/output

# 3) The DAGs (docker-compose.yml also bind-mounts ./dags read-only for live edits).
COPY --chown=50000:0 dags/ /opt/airflow/dags/

USER 50000:0

# The Prefect worker that executes the S&OP runs (scheduled and UI-triggered) from the
# `sop-process` work pool. Not built in CI; see README "Prefect in production".
#   docker build -t sop-worker .
#   docker run -e PREFECT_API_URL=http://prefect:4200/api -e SOP_INPUTS=/data/inputs \
#     -e SOP_OUT=/data/out -e SOP_STORE_URL=postgresql+psycopg://planner@db:5432/sop \
#     -e SOP_STORE_PASSWORD=… -v /srv/sop:/data sop-worker
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The same pinned versions as CI and `make`: constraints.txt.
COPY . /src
RUN pip install -c /src/constraints.txt /src && rm -rf /src

RUN useradd --create-home --uid 10001 sop
USER sop
WORKDIR /home/sop
# prefect.yaml's pull step changes into SOP_HOME; the package itself is installed.
ENV SOP_HOME=/home/sop

# `docker run sop-worker --pool other-pool` polls another pool.
ENTRYPOINT ["prefect", "worker", "start"]
CMD ["--pool", "sop-process", "--type", "process"]

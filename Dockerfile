# 星纪 ASR service image. GPU by default; CPU-only with
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu -t xingji-asr:cpu .
# Why a python base and not nvidia/cuda: PyPI's torch 2.11.0 wheel for Linux x86_64 is the CUDA 13
# build and brings its own CUDA runtime, cuBLAS and cuDNN as nvidia-*-cu13 wheels; only the driver
# comes from the host, injected by the NVIDIA container toolkit (driver 580 or newer). See
# docs/deployment.md "Image".
# Models are not in the image: mount a model cache at /models (MODELSCOPE_CACHE).
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim-bookworm

# Empty: PyPI (CUDA 13 build, also runs on CPU). The CPU index gives a ~10x smaller torch.
ARG TORCH_INDEX_URL=""

# ffmpeg: not needed for decoding (PyAV's wheel carries its own), but operators convert and probe
# recordings from the backup directory with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 asr \
    && useradd --system --uid 10001 --gid asr --home-dir /home/asr --create-home --shell /usr/sbin/nologin asr

WORKDIR /app
COPY requirements.txt requirements-gpu.txt ./
# torch and torchaudio come first from the chosen index, at the versions requirements.txt pins, so
# the pair always matches; pip then keeps them (2.11.0+cpu satisfies ==2.11.0).
RUN set -eux; \
    if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" $(grep -E '^(torch|torchaudio)==' requirements.txt); \
    fi; \
    pip install --no-cache-dir -r requirements-gpu.txt

COPY asr_service ./asr_service
COPY asr_api_server.py download_models.py gunicorn.conf.py ./
COPY scripts/healthcheck.py ./scripts/healthcheck.py

RUN mkdir -p /models /data /hotwords /logs && chown asr:asr /models /data /hotwords /logs

ENV PYTHONUNBUFFERED=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    MODELSCOPE_CACHE=/models \
    HF_HOME=/models/huggingface \
    ASR_DATA_DIR=/data \
    HOTWORDS_FILE=/hotwords/hotwords.json \
    ASR_HOST=0.0.0.0 \
    ASR_PORT=5006

USER asr
EXPOSE 5006
VOLUME ["/models", "/data", "/logs"]

# Ready = models loaded and warmed up; loading full-size models can take minutes on first start.
HEALTHCHECK --interval=15s --timeout=5s --start-period=600s --retries=3 \
    CMD ["python", "scripts/healthcheck.py"]

# gunicorn sends SIGTERM to its worker, which hands running recordings off (docs/deployment.md).
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "gunicorn.conf.py"]

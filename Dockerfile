# One image for every service; the command picks the service (`connector ingest`, ...).
FROM python:3.11-slim
WORKDIR /app
# Every file pip downloads is checked against the lock's hashes, the build backend among them.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
# The project itself: no dependency of its own, built by the locked setuptools just installed.
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && useradd --system connector
USER connector

# One image for every service; the command picks the service (`connector ingest`, ...).
FROM python:3.11-slim
WORKDIR /app
COPY requirements/lock.txt requirements/lock.txt
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir -c requirements/lock.txt . && useradd --system connector
USER connector

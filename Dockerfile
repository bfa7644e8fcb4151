FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md NOTICE ./
COPY kensho ./kensho
COPY migrations ./migrations
RUN pip install --no-cache-dir .
ENV KENSHO_HOST=0.0.0.0 KENSHO_PORT=8080
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["kensho", "serve"]

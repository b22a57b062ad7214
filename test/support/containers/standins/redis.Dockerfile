# Test stand-in for the public redis:7.0-bookworm: Debian's redis-server 7.0, run as the
# redis user in /data like the official image. Built by base-images.ts.
FROM debian:bookworm-slim
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends redis-server; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /data; chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server"]

# Shared layer of the Kafka and OpenSearch stand-ins (not an upstream image; its tag,
# peregrine-standin/jre:17-bookworm, exists only in the test dockerd): Debian's OpenJDK 17
# runtime (headless) on the Debian stand-in, and curl (OpenSearch's health check uses it).
# Built by lab-standins.ts.
FROM debian:bookworm-slim
RUN set -eux; \
    mkdir -p /usr/share/man/man1; \
    apt-get update; \
    apt-get install -y --no-install-recommends openjdk-17-jre-headless curl; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb; \
    java -version
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64

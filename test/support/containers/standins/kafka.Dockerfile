# Test stand-in for the public apache/kafka:4.4.0 (nothing can be pulled on the test machines):
# the Kafka 4.4.0 jars the test servers already use (test/servers/kafka/pom.xml, from Maven
# Central) on Debian's OpenJDK 17, laid out as the official image is:
#   /opt/kafka/libs, /opt/kafka/bin/kafka-{server-start,storage,topics,console-consumer,
#   console-producer,run-class}.sh, /opt/kafka/config/server.properties (single-node KRaft,
#   broker + controller, PLAINTEXT on localhost:9092, CONTROLLER on localhost:9093),
#   /etc/kafka/docker/run (the start script), user appuser (1000).
# Like the official image: with no KAFKA_* configuration variable the default
# server.properties is used; with any, the configuration is made from the variables alone
# (KAFKA_FOO_BAR -> foo.bar, __ -> _, ___ -> -), and the storage is formatted on first start
# with CLUSTER_ID (the image's default id when unset). KAFKA_HEAP_OPTS and KAFKA_OPTS go to the JVM.
# Not imitated: Java 21 and the JRE's defaults (here: Debian's 17, C1 JIT and the serial
# collector unless KAFKA_JVM_PERFORMANCE_OPTS says otherwise, to start fast on 2 cores), the
# file-input (/mnt/shared/config) and SSL helpers, the other 30-odd scripts in bin/.
# Built by lab-standins.ts; the build context holds libs/ (the cached jars) and kafka/.
FROM peregrine-standin/jre:17-bookworm
RUN set -eux; \
    groupadd --gid 1000 appuser; \
    useradd --uid 1000 --gid appuser --home-dir /home/appuser --create-home --shell /bin/bash appuser; \
    mkdir -p /opt/kafka/libs /opt/kafka/bin /opt/kafka/config /etc/kafka/docker /var/lib/kafka/data /mnt/shared/config; \
    chown -R appuser:appuser /opt/kafka/config /var/lib/kafka /mnt/shared /etc/kafka/docker
COPY libs/ /opt/kafka/libs/
COPY kafka/bin/ /opt/kafka/bin/
COPY kafka/config/ /opt/kafka/config/
COPY kafka/run /etc/kafka/docker/run
RUN chmod 0755 /opt/kafka/bin/*.sh /etc/kafka/docker/run
ENV PATH=/opt/kafka/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER appuser
WORKDIR /opt/kafka
EXPOSE 9092
CMD ["/etc/kafka/docker/run"]

#!/bin/sh
# Stand-in for Kafka's kafka-server-start.sh: kafka-server-start.sh <server.properties>.
: "${KAFKA_HEAP_OPTS:=-Xmx1G -Xms1G}"
export KAFKA_HEAP_OPTS
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"

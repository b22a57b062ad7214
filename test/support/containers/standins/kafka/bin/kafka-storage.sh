#!/bin/sh
# Stand-in for Kafka's kafka-storage.sh (same class, same arguments).
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"

#!/bin/bash
# Stand-in for the official image's entrypoint (bash, like it: dash would drop the dotted
# variables from the environment it passes on): the heap and JVM options from
# OPENSEARCH_JAVA_OPTS (default -Xms1g -Xmx1g, as the image's jvm.options), settings from
# the variables with a dot in their name (read by the Java main itself).
set -e
base=/usr/share/opensearch
# C1 JIT and the serial collector unless STANDIN_JVM_TUNING is set: they halve the CPU a
# start costs on 2 cores (the official image runs G1 with the full JIT).
: "${STANDIN_JVM_TUNING:=-XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
# shellcheck disable=SC2086 # option lists
exec java -Xms1g -Xmx1g $STANDIN_JVM_TUNING $OPENSEARCH_JAVA_OPTS -Djava.awt.headless=true -Dlog4j2.disable.jmx=true \
  -Dlog4j2.configurationFile=$base/config/log4j2.properties -cp "$base/standin:$base/lib/*" standin.LabOpenSearch

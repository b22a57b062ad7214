# Test stand-in for the public gcr.io/distroless/cc-debian12 (nothing can be pulled on the
# test machines): glibc, libstdc++, libgcc, the CA bundle, /etc/passwd with root,
# nobody and nonroot (65532), /tmp; no shell, no package manager. Built by base-images.ts
# from the Debian stand-in.
FROM debian:bookworm-slim AS src
RUN set -eux; \
    mkdir -p /out/lib/x86_64-linux-gnu /out/lib64 /out/etc/ssl/certs /out/tmp /out/home/nonroot /out/root; \
    cd /lib/x86_64-linux-gnu; \
    cp -a libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 libutil.so.1 \
          libnss_files.so.2 libnss_dns.so.2 ld-linux-x86-64.so.2 \
          libstdc++.so.6* libgcc_s.so.1 /out/lib/x86_64-linux-gnu/; \
    cp -a /lib64/ld-linux-x86-64.so.2 /out/lib64/; \
    cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/etc/passwd; \
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > /out/etc/group; \
    printf 'hosts: files dns\n' > /out/etc/nsswitch.conf; \
    chmod 1777 /out/tmp; chown 65532:65532 /out/home/nonroot; chmod 700 /out/root
FROM scratch
COPY --from=src /out/ /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

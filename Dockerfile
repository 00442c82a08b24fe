# sigmaproxy container image (STYLE.md §12; deploy/README.md).
#   docker build -t sigmaproxy .
#   docker run --rm -p 127.0.0.1:8080:8080 -p 127.0.0.1:9090:9090 sigmaproxy
# The build stage is Debian 12 with the -dev packages (the list tests/deps.sh installs for
# `make`); the runtime stage is bookworm-slim with only the four shared libraries and the CA store.
# tests/deploy_check.sh lints this file and runs the HEALTHCHECK command against a stub server.

FROM debian:bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config \
        libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libhiredis-dev \
        zlib1g-dev libbrotli-dev libpcre2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# `make` = the release build, -Werror included; the smoke run proves the binary starts at all.
RUN make -j"$(nproc)" \
    && ./build/release/sigmaproxy --version \
    && install -D -m 0755 -s build/release/sigmaproxy /out/usr/local/bin/sigmaproxy

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libmicrohttpd12 libcurl4 libjansson4 libhiredis0.14 zlib1g libbrotli1 libpcre2-8-0 \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sigmaproxy \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/sigmaproxy --no-create-home \
        --shell /usr/sbin/nologin sigmaproxy \
    && install -d -m 0750 -o 10001 -g 10001 /var/lib/sigmaproxy /var/lib/sigmaproxy/spool
COPY --from=build /out/usr/local/bin/sigmaproxy /usr/local/bin/sigmaproxy
COPY config/sigmaproxy.example.json /etc/sigmaproxy/sigmaproxy.json

# Inside a container the listeners must take connections from outside its own loopback. The
# environment outranks the config file (SPEC.md: flag > env > file), so a mounted config's
# "listen" / "admin_listen" are ignored here: change these with `-e` or pass --listen.
ENV SIGMAPROXY_LISTEN=0.0.0.0:8080 \
    SIGMAPROXY_ADMIN_LISTEN=0.0.0.0:9090 \
    SIGMAPROXY_SPOOL_DIR=/var/lib/sigmaproxy/spool

# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/sigmaproxy
# The image refuses a config it would refuse at start, with the image's own environment.
RUN ["sigmaproxy", "--check-config", "--config", "/etc/sigmaproxy/sigmaproxy.json"]

EXPOSE 8080 9090
# SIGTERM starts the drain (default 10 s, then the evaluator and the spool flush): give
# `docker stop` more than that, e.g. `docker stop -t 30` (compose: stop_grace_period).
STOPSIGNAL SIGTERM
# No curl in the image: bash (Essential in Debian) speaks HTTP over /dev/tcp to the admin port
# named by SIGMAPROXY_ADMIN_LISTEN, on loopback. Healthy = the status line says 200.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "a=${SIGMAPROXY_ADMIN_LISTEN:-127.0.0.1:9090}; exec 3<>\"/dev/tcp/127.0.0.1/${a##*:}\" && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && IFS= read -r -t 2 s <&3 && [[ $s == 'HTTP/1.'?' 200'* ]] || exit 1"]

ENTRYPOINT ["sigmaproxy"]
CMD ["--config", "/etc/sigmaproxy/sigmaproxy.json"]

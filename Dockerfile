# PinShare's image for the sidecar setup: kubo runs as its own container (ipfs/kubo, unmodified) on the same
# network; this image holds the app and the few programs it shells out to. No daemon, no `ipfs init`, no sleep.
# Written by `pinshare-dev init`; the Dockerfile it replaced is kept as Dockerfile-legacy.

# go.mod: go 1.24 (toolchain go1.24.5). cgo ON: mattn/go-sqlite3 is C (CGO_ENABLED=0 builds a binary whose
# database calls fail at run time). gcc and libc6-dev are in this image; go-sqlite3 bundles SQLite itself.
# Built with BuildKit (pinshare-dev uses it where the engine has it): the module cache (GOPATH=/go in the golang
# image) and the build cache (root's ~/.cache/go-build; this stage runs as root) are cache mounts that outlive
# each build, so editing one Go file recompiles that package, not every dependency, and a go.sum change
# downloads only the new modules. The classic builder cannot build this file (it has no --mount).
FROM golang:1.24-trixie AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
# The app is main.go + internal/ (cmd/ is the Windows tray/service, pinshare-ui/ a separate Vite app).
COPY main.go ./
COPY internal ./internal
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/pinshare .

# The kubo CLI, from the same image and version the ipfs service runs. PinShare checks for `ipfs` on PATH at
# start and shells out to `ipfs add/get/pin`; the CLI ignores IPFS_API and finds the daemon through
# $IPFS_PATH/api (no repo, no config needed: kubo's plugin loader skips a missing config).
FROM ipfs/kubo:v0.42.0 AS kubo

FROM debian:trixie-slim
# clamav (clamscan) + clamav-freshclam: PinShare's security path 3 (freshclam at start, clamscan per file).
# With clamscan present PinShare never takes the VirusTotal-through-Chromium path, so no chromium here.
# ca-certificates: TLS for freshclam's mirror and libp2p peers.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates clamav clamav-freshclam; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --uid 1000 --gid 100 --no-create-home --home-dir /opt/pinshare/data --shell /usr/sbin/nologin pinshare; \
    mkdir -p /opt/pinshare/data /opt/pinshare/ipfs; \
    echo /dns4/ipfs/tcp/5001 > /opt/pinshare/ipfs/api; \
    chown 1000:100 /opt/pinshare/data; \
    # freshclam, run as this user, writes the signature database and its log: both must be writable.
    chown -R 1000:100 /var/lib/clamav /var/log/clamav; \
    sed -i 's/^DatabaseOwner .*/DatabaseOwner pinshare/' /etc/clamav/freshclam.conf
COPY --from=kubo /usr/local/bin/ipfs /usr/local/bin/ipfs
COPY --from=build /out/pinshare /usr/local/bin/pinshare
# The api file names the kubo service (`ipfs` in pinshare.toml); IPFS_API is what the app itself dials.
ENV IPFS_PATH=/opt/pinshare/ipfs \
    IPFS_API=http://ipfs:5001
# Not root: uid 1000, gid 100 (users), like kubo's image. It writes only its working directory and clamav's.
USER 1000:100
# identity.key (the peer id), pinshare.db, metadata.json, upload/, cache/, rejected/ are relative paths:
# the working directory is the data volume, or the peer id changes on every recreate.
WORKDIR /opt/pinshare/data
# 9090 HTTP API; 50001 libp2p over tcp and quic-v1 (udp).
EXPOSE 9090 50001 50001/udp
ENTRYPOINT ["/usr/local/bin/pinshare"]

# PinShare's image, WITHOUT IPFS: Kubo runs as its own container (ipfs/kubo) next to this one and is reached
# through IPFS_API (http://ipfs:5001). No daemon, no sleep, no repo in here.

FROM golang:1.25-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/pinshare .

FROM debian:bookworm-slim
# chromium: page previews; clamav: scanning uploads; ca-certificates: TLS to peers and registries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium ca-certificates clamav clamav-freshclam \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 1000 --user-group --create-home --home-dir /opt/pinshare pinshare \
 && mkdir -p /opt/pinshare/data \
 && chown -R pinshare:pinshare /opt/pinshare
COPY --from=build /out/pinshare /usr/local/bin/pinshare
USER pinshare
WORKDIR /opt/pinshare
ENV IPFS_API=http://ipfs:5001
EXPOSE 9090 50001
ENTRYPOINT ["/usr/local/bin/pinshare"]

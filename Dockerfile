# syntax=docker/dockerfile:1
# articlesd: one static binary in an image with nothing else (no shell, no compiler),
# running as a non-root user. Build: docker build --build-arg VERSION=v1.2.3 -t articlesd .

# golang:1.26.8, release confirmed: docker-library/official-images PR #22183 (2026-09-01)
# "Update 1.26 to 1.26.8" (library/golang). The syntax image docker/dockerfile:1 above is
# the floating 1.x tag the Dockerfile reference (moby/buildkit frontend/dockerfile/docs/
# reference.md, "syntax") documents.
FROM golang:1.26.8 AS build
WORKDIR /src
# No `go mod download` first: it fetches every module of the graph, the test suite's
# tools included (157 MB of archives, 861 MB unpacked), where `go build` fetches only
# what the binary imports (84 MB, 564 MB), into the same cache mount.
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/articlesd . \
 && mkdir -p /out/stack /out/logs /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/articlesd /articlesd
# Directories the non-root user writes: the provisioned stack configuration (a named
# volume in docker compose takes this ownership), the log file, the embedded database.
COPY --from=build --chown=65532:65532 /out/stack /stack
COPY --from=build --chown=65532:65532 /out/logs /var/log/articlesd
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV ARTICLESD_ADDR=:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/articlesd", "healthcheck"]
ENTRYPOINT ["/articlesd"]
CMD ["serve"]

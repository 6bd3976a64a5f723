# wagate container image: a static Go binary on distroless, running as non-root.
#
#   docker build -t wagate .
#   docker run -p 3000:3000 -e DATABASE_URL=postgres://... -e WAGATE_ADMIN_KEY=wamk_... wagate
#
# Not built in this repository's CI (no container engine there); see docs/operations.md.

# ---- build ----------------------------------------------------------------
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-trimpath
# Dependencies first, so source edits do not re-download modules.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -ldflags="-s -w" -o /out/wagate ./cmd/wagate

# ---- run ------------------------------------------------------------------
# distroless/static: CA certificates, tzdata, /etc/passwd with "nonroot"
# (uid 65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wagate /usr/local/bin/wagate
USER 65532:65532
ENV WAGATE_ADDR=:3000
EXPOSE 3000
# No shell or curl in the image: the binary checks itself (GET /healthz on
# the port of WAGATE_ADDR). Docker honours it; podman only with --format docker.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/wagate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/wagate"]
CMD ["serve"]

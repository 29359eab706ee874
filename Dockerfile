# expbot's container image: `expbot serve` with the Pulumi CLI and the
# provider plugins it drives, on an empty base (no shell, no package manager).
# Needs BuildKit (the default builder of current Docker; Docker 20.10:
# DOCKER_BUILDKIT=1), which builds only the stages the arguments choose.
#
#   docker build -t expbot .                      # everything from source, official plugins
#
# Where the build cannot download (no registry, no module proxy), the inputs
# can come from the build context instead (`make image-test` does this):
#
#   INPUTS=local   the root file system in build/image-inputs/rootfs/: static
#                  expbot and pulumi binaries (or dynamic ones with their
#                  libraries), the CA bundle
#   PLUGINS=test-standins  TEST BUILDS ONLY: the stand-in provider plugins
#                  (a PULUMI_HOME in build/image-inputs/test-standins/) where
#                  the official ones go. Such an image must never serve a
#                  real forge.

ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=scratch
ARG INPUTS=source
ARG PLUGINS=official

# ---- inputs built from source (needs the Go module proxy)
FROM ${GO_IMAGE} AS source
# The CLI version pinned in tools/pulumi/go.mod; the build checks they agree.
ARG PULUMI_VERSION=v3.274.1
ENV CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY tools/pulumi/go.mod tools/pulumi/go.sum tools/pulumi/
RUN cd tools/pulumi && go mod download
COPY . .
RUN grep -q "github.com/pulumi/pulumi/pkg/v3 ${PULUMI_VERSION}\$" tools/pulumi/go.mod \
    || { echo "PULUMI_VERSION=${PULUMI_VERSION} is not the version pinned in tools/pulumi/go.mod" >&2; exit 1; }
RUN go build -trimpath -ldflags "-s -w" -o /out/usr/local/bin/expbot ./cmd/bot
RUN cd tools/pulumi && go build -trimpath -o /out/usr/local/bin/pulumi \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_VERSION}" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
RUN mkdir -p /out/etc/ssl/certs && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/

# ---- inputs prepared on the host (see internal/imagetest)
FROM scratch AS local
COPY build/image-inputs/rootfs/ /out/

FROM ${INPUTS} AS inputs

# ---- the official provider plugins, as `pulumi plugin install` leaves them.
# Their versions are the ones the Pulumi SDKs in go.mod ask for: the engine
# loads exactly those.
FROM ${GO_IMAGE} AS plugins-official
ARG GITHUB_PLUGIN_VERSION=6.12.1
ARG GITLAB_PLUGIN_VERSION=8.11.0
COPY --from=inputs /out/ /inputs/
# Only the plugins are kept: the CLI also leaves logs in its PULUMI_HOME.
RUN export PULUMI_HOME=/tmp/pulumi-home PULUMI_SKIP_UPDATE_CHECK=true \
 && /inputs/usr/local/bin/pulumi plugin install resource github ${GITHUB_PLUGIN_VERSION} \
 && /inputs/usr/local/bin/pulumi plugin install resource gitlab ${GITLAB_PLUGIN_VERSION} \
 && mkdir -p /out/opt/pulumi \
 && cp -a /tmp/pulumi-home/plugins /out/opt/pulumi/ \
 && rm -f /out/opt/pulumi/plugins/*.lock /out/opt/pulumi/plugins/*.lastused \
 && test -x /out/opt/pulumi/plugins/resource-github-v${GITHUB_PLUGIN_VERSION}/pulumi-resource-github \
 && test -x /out/opt/pulumi/plugins/resource-gitlab-v${GITLAB_PLUGIN_VERSION}/pulumi-resource-gitlab

# ---- TEST BUILDS ONLY: stand-ins in the official plugins' place
FROM scratch AS plugins-test-standins
COPY build/image-inputs/test-standins/ /out/opt/pulumi/

FROM plugins-${PLUGINS} AS plugins

# ---- the image
FROM ${BASE_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG PLUGINS
LABEL org.opencontainers.image.title="expbot" \
      org.opencontainers.image.description="Webhook bot that turns labeled GitHub/GitLab issues into experiment branches through Pulumi" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/expbot/expbot" \
      io.expbot.plugins="${PLUGINS}"
COPY --from=inputs /out/ /
COPY --from=plugins /out/ /
COPY deploy/image/passwd deploy/image/group /etc/
# The root file system may be read-only: everything that is written goes
# below /data (database, Pulumi state and workspaces, temporary files).
# The Pulumi CLI writes to its PULUMI_HOME too (workspaces, logs), so that is
# on the volume, and its plugins directory links to the image's plugins.
ENV EXPBOT_LISTEN=0.0.0.0:8080 \
    EXPBOT_DATA_DIR=/data \
    EXPBOT_PULUMI=/usr/local/bin/pulumi \
    EXPBOT_PULUMI_HOME=/data/pulumi-home \
    EXPBOT_PULUMI_PLUGIN_DIR=/opt/pulumi/plugins \
    PULUMI_HOME=/data/pulumi-home \
    HOME=/data \
    TMPDIR=/data/tmp \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=6s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/expbot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/expbot"]
CMD ["serve"]

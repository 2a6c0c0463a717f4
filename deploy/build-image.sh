#!/bin/sh
# Builds the container image from deploy/Containerfile, offline: a static
# binary (CGO_ENABLED=0), the build machine's CA certificates and an empty
# data directory are staged in $CTX, and the image starts FROM scratch, so
# nothing is pulled. Uses buildah when it is installed (no daemon needed),
# else docker. Run from the repository root (`make image`).
set -eu
IMAGE=${IMAGE:-chatbridge:latest}
CTX=${CTX:-bin/image}
GO=${GO:-go}
CA=${CA:-/etc/ssl/certs/ca-certificates.crt}
rm -rf "$CTX"
mkdir -p "$CTX/rootfs/var/lib/chatbridge" "$CTX/rootfs/etc/chatbridge/keys"
chmod 0700 "$CTX/rootfs/var/lib/chatbridge" "$CTX/rootfs/etc/chatbridge/keys"
echo "==> building the static binary $CTX/chatbridge"
CGO_ENABLED=0 $GO build -trimpath -ldflags "-X main.commit=${COMMIT:-}" -o "$CTX/chatbridge" ./host/cmd/chatbridge
cp "$CA" "$CTX/ca-certificates.crt"
echo "==> building the image $IMAGE"
if command -v buildah >/dev/null; then
	# vfs and chroot isolation work without a daemon, in a container too.
	# shellcheck disable=SC2086
	buildah ${BUILDAH_FLAGS:-} --storage-driver vfs bud --isolation chroot -f deploy/Containerfile -t "$IMAGE" "$CTX"
else
	docker build -f deploy/Containerfile -t "$IMAGE" "$CTX"
fi

#!/usr/bin/env bash
# Builds the Redis test image, a FROM scratch image holding Debian's
# redis-server, the libraries it links and the loader. Needs no registry.
# Idempotent: the docker build is skipped when the tag holds the same content.
#
# Usage: testimages/redis/build.sh [tag]   (default bootstrap-test/redis:local)
set -euo pipefail

tag=${1:-bootstrap-test/redis:local}
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
lock_build redis

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "redis-server is missing; install it with: apt-get update && apt-get install -y redis-server" >&2
		exit 1
	fi
	echo "installing redis-server with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends redis-server >/dev/null
	# The package starts a system service; the image needs only the binary.
	service redis-server stop >/dev/null 2>&1 || true
fi

bin=$(readlink -f "$(command -v redis-server || echo /usr/bin/redis-server)")
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

root="$ctx/rootfs"
copy() { # copy a file to the same absolute path inside the image's root
	mkdir -p "$root$(dirname "$2")"
	cp -L "$1" "$root$2"
}

copy "$bin" /usr/bin/redis-server
# Every library ldd resolves, plus the loader (the line without "=>").
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
	while read -r lib; do copy "$lib" "$lib"; done
if [ ! -e "$root/lib64/ld-linux-x86-64.so.2" ] && [ -e /lib64/ld-linux-x86-64.so.2 ]; then
	copy /lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
fi

cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["/usr/bin/redis-server"]
CMD ["--save", "", "--appendonly", "no", "--protected-mode", "no"]
DOCKERFILE

build_image "$tag" "$ctx"

#!/usr/bin/env bash
# make demo: the main job end to end on real services that this script starts
# itself. It builds the runner image (bootstrap:dev) and the Redis and FerretDB
# images (no registry needed), starts Redis and FerretDB on a private Docker
# network, runs the example profiles twice (the second run skips everything),
# and prints status and history. Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_IMAGE=${BOOTSTRAP_TEST_REDIS_IMAGE:-bootstrap-test/redis:local}
MONGO_IMAGE=${BOOTSTRAP_TEST_MONGO_IMAGE:-bootstrap-test/ferretdb:v1.24.2}
PROFILES=${DEMO_PROFILES:-example-patterns,example-users}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "building the images (offline)"
make -s test-images image >/dev/null

net="bootstrap-demo-$$"
cleanup() {
	docker rm -f "$net-redis" "$net-mongo" >/dev/null 2>&1 || true
	docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
docker network create "$net" >/dev/null
docker run -d --name "$net-redis" --network "$net" --network-alias redis "$REDIS_IMAGE" >/dev/null
docker run -d --name "$net-mongo" --network "$net" --network-alias mongo --tmpfs /data:rw "$MONGO_IMAGE" >/dev/null
echo "Redis and FerretDB (MongoDB wire protocol) started on network $net"

bootstrap() {
	local tty=()
	[ -t 1 ] && tty=(-t)
	docker run --rm "${tty[@]}" --network "$net" \
		-e BOOTSTRAP_MONGO_URI=mongodb://mongo:27017/ \
		-e BOOTSTRAP_REDIS_URL=redis://redis:6379 \
		-e BOOTSTRAP_HEALTH_ADDR=off \
		-e DEMO_ADMIN_PASSWORD=demo-admin-password \
		-e BCRYPT_SALT_ROUNDS=10 \
		bootstrap:dev "$@"
}

step "bootstrap plan -p $PROFILES"
bootstrap plan -p "$PROFILES" --log-level warn

step "bootstrap run -p $PROFILES   (first run: applies every profile)"
bootstrap run -p "$PROFILES" --log-format text

step "bootstrap run -p $PROFILES   (second run: every marker is current, nothing is written)"
bootstrap run -p "$PROFILES" --log-format text

step "bootstrap status"
bootstrap status --log-level warn

step "bootstrap history"
bootstrap history --log-level warn --limit 10

step "done: image $(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' bootstrap:dev)"

# shellcheck shell=bash
# Helpers shared by the contract scripts. Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_TOOLS="$ROOT/tools/node"
SDK_TS="$ROOT/sdk/typescript"

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# npm_ci DIR: installs DIR's locked dependencies with `npm ci` unless
# node_modules is already at least as new as package-lock.json.
npm_ci() {
	local dir=$1
	if [[ ! -f "$dir/node_modules/.package-lock.json" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
		log "npm ci in ${dir#"$ROOT"/}"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $dir"
	fi
}

# ensure_postgres: starts the local PostgreSQL 15 cluster when nothing
# answers on 127.0.0.1:5432 (Debian layout; no systemd here).
ensure_postgres() {
	if pg_isready -q -h 127.0.0.1 -p 5432; then
		return 0
	fi
	log "starting PostgreSQL"
	pg_ctlcluster --skip-systemctl-redirect 15 main start || die "could not start PostgreSQL (pg_ctlcluster 15 main)"
	local i
	for i in $(seq 1 30); do
		pg_isready -q -h 127.0.0.1 -p 5432 && return 0
		sleep 1
	done
	die "PostgreSQL did not become ready"
}

# free_port: prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS PID: waits until URL answers 2xx, while PID lives.
wait_http() {
	local url=$1 secs=$2 pid=$3 i
	for i in $(seq 1 $((secs * 4))); do
		if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.25
	done
	return 1
}

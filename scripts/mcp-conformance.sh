#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in tools/mcp-conformance) against /mcp of a sandbox wagate with an
# admin key. Needs Node 22+ (the suite uses fs.globSync).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TOOLS="$ROOT/tools/mcp-conformance"
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 22 )); then
	die "the MCP conformance suite needs Node 22+ (found $(node --version))"
fi
npm_ci "$TOOLS"
ensure_postgres
db="wagate_mcp_conformance_$$"
addr="127.0.0.1:$(( 20000 + RANDOM % 20000 ))"
admin="wamk_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
go build -o "$ROOT/bin/wagate" "$ROOT/cmd/wagate"
WAGATE_SANDBOX=1 WAGATE_ADDR="$addr" WAGATE_ADMIN_KEY="$admin" \
	DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable" "$ROOT/bin/wagate" serve &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
for _ in $(seq 1 60); do curl -fsS "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
cd "$TOOLS"
args=(server --url "http://$addr/mcp?api_key=$admin")
[[ -f expected-failures.yaml ]] && args+=(--expected-failures expected-failures.yaml)
npx --no-install conformance "${args[@]}"
log "ok: MCP conformance suite"

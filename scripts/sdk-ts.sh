#!/usr/bin/env bash
# Builds and checks the TypeScript SDK without a server: `npm ci`, the types
# in src/schema.ts must be what openapi-typescript generates from
# openapi.yaml today, `tsc` strict build, then the offline tests (type
# checks + runtime checks; the live smoke test skips without WAGATE_URL and
# runs in scripts/e2e-proxy.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$SDK_TS"
npm_ci "$SDK_TS"
npx --no-install openapi-typescript ../../openapi.yaml -o src/schema.ts >/dev/null
if ! git diff --quiet -- src/schema.ts; then
	git --no-pager diff --stat -- src/schema.ts >&2
	die "sdk/typescript/src/schema.ts is stale: run 'cd sdk/typescript && npm run generate' and commit it"
fi
npx --no-install tsc -p tsconfig.json
env -u WAGATE_URL npm test --silent
log "ok: TypeScript SDK generated, built and tested"

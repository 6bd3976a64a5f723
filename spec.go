// Package wagate holds the API contract, openapi.yaml, as bytes, so that the
// server can serve the original YAML (with its comments and order) at
// /openapi.yaml. The running server validates against the generated embedded
// spec in gen/api, which is built from this same file.
package wagate

import _ "embed"

// OpenAPIYAML is the contract exactly as written in openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

//go:build tools

// This file pins the code generators this module runs, so that
// `make generate` uses exactly the versions in go.mod.
package wagate

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
)

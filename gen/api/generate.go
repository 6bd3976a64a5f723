// Package api holds the code generated from openapi.yaml: models, the Echo
// strict server interface and the embedded spec. Do not edit *.gen.go.
package api

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config cfg.yaml ../../openapi.yaml

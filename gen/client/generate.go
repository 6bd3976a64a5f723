// Package client is the typed Go client generated from openapi.yaml.
// Do not edit *.gen.go.
package client

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config cfg.yaml ../../openapi.yaml

// Package apifuzz holds wagate's spec-driven fuzz test (fuzz_test.go): every
// operation of openapi.yaml, with valid requests generated from the spec and
// then mutated (NUL bytes, huge and negative integers, wrong types, unicode,
// very long strings, missing and extra fields, bad UUIDs, path traversal,
// invalid UTF-8, raw garbage), against the real server on a real
// PostgreSQL database, with sessions linked to the simulated WhatsApp
// (internal/wasim) so that session operations run deep. It fails on any
// 500, any status the operation does not document, and any error body
// outside the schema. The package has no code outside its tests.
package apifuzz

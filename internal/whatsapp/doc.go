// Package whatsapp is wagate's adapter to WhatsApp and the only package that
// imports go.mau.fi/whatsmeow. A process-wide Manager owns one Session per
// wagate session; each Session drives one whatsmeow client whose device
// (keys, Signal sessions, app state) lives in whatsmeow's own tables in our
// PostgreSQL database, sharing our pgx pool.
//
// The Manager implements gateway.SessionRuntime: it links sessions by QR or
// pairing code, keeps them connected (capped exponential backoff with
// jitter, an active liveness probe, whatsmeow keepalive failures), restores
// every linked session at start-up without a new QR, and writes every state
// change through gateway.SessionStatusStore. whatsmeow errors become
// gateway errors in exactly one place (TranslateError).
package whatsapp

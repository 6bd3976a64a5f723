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
// change through gateway.SessionStatusStore. It also implements
// gateway.MessagingRuntime (send.go: text and, through one upload-then-send
// path, every media kind; chatops.go, contacts.go, media.go).
//
// Every whatsmeow event passes through one switch, clientHandler.handleEvent
// (events.go), whose arms delegate to one small function per event kind;
// what the message store keeps (messages, receipts, history sync, app-state
// changes) goes to the one inbound port, Options.Inbound
// (gateway.MessageSink), before WhatsApp gets its ack (inbound.go).
// whatsmeow errors are classified only in errors.go (TranslateError and the
// per-operation translators).
package whatsapp

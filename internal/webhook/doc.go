// Package webhook delivers a session's events to its webhooks at least once.
//
// Each event's delivery rows and their River jobs are written in the
// transaction that records the event (see Service.EnqueueTx), so an event
// is delivered exactly when the change it describes is committed. River
// workers POST the signed JSON envelope, record every attempt, retry with
// exponential backoff and jitter for about a day, and then mark the
// delivery dead; dead deliveries can be replayed through the API.
//
// Receivers verify the X-Wagate-Signature header with Verify. Webhook URLs
// that resolve to loopback, private, link-local, multicast or unspecified
// addresses are refused when configured (CheckURL) and again when dialed
// (the delivery client's net.Dialer.Control), unless AllowPrivate is set.
package webhook

// Package gateway holds wagate's domain: the error type and its closed set of
// codes, the exact error texts clients match on, session and message types,
// and the port interfaces that the adapters (httpapi, whatsapp, postgres,
// webhook) implement or consume. It imports none of wagate's other packages.
package gateway

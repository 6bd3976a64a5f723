package messaging

// MediaSeconds exposes the duration parsers to the external tests.
var MediaSeconds = mediaSeconds

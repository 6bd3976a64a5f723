package gateway

import "time"

// Delivery states of an own message (Message.Status): accepted by
// WhatsApp's server (a send returns only after its ack), then the best
// progress any recipient reported.
const (
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryRead      = "read"
	DeliveryPlayed    = "played"
)

// MessageReceipt is one recipient's progress on an own message.
type MessageReceipt struct {
	Recipient string    `json:"recipient"` // user JID (phone form when known)
	Status    string    `json:"status"`    // delivered, read, played
	At        time.Time `json:"at"`
}

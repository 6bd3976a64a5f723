package conversation_test

import (
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
)

// TestOneToOneLIDs (issue 15 item 2, in a 1:1 chat, not a group): a
// contact's message carries its phone JID as sender and its LID as
// senderLid (store, GET, `message` event); a send answers `to` (the phone
// JID) and `toLid` (the contact's LID, learned by the send itself for a
// number never seen before), and the own message carries the account's
// own LID as senderLid, in the `message.sent` event and the store; the
// contact's device decrypted the message.
func TestOneToOneLIDs(t *testing.T) {
	e := newE2E(t, "15550107000")
	known := e.sim.Contact("15550107001")
	id := e.inbound(known, "hello from a contact")

	g, err := e.c.GetMessageWithResponse(e.ctx, e.sid, known.JID().String(), id)
	if err != nil || g.JSON200 == nil {
		t.Fatalf("get: %v %s", err, g.Body)
	}
	if m := g.JSON200.Message; m.Sender != known.JID().String() || m.SenderLid == nil || *m.SenderLid != known.LID().String() || m.ChatJid != known.JID().String() {
		t.Fatalf("inbound message: %s; want sender %s senderLid %s", g.Body, known.JID(), known.LID())
	}
	ev := e.waitEvent("message", func(d map[string]any) bool { return d["id"] == id })
	if ev["sender"] != known.JID().String() || ev["senderLid"] != known.LID().String() {
		t.Fatalf("message event: %v", ev)
	}

	ownLID := e.sim.Phone(e.own).LID().String()
	for _, c := range []struct{ name, to string }{
		{"KnownContact", known.JID().User},
		{"NewNumber", "15550107002"},
	} {
		t.Run(c.name, func(t *testing.T) {
			contact := e.sim.Contact(c.to)
			r, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: "+" + c.to, Text: "hi " + c.name})
			if err != nil || r.JSON200 == nil {
				t.Fatalf("send: %v %s", err, r.Body)
			}
			if r.JSON200.To != contact.JID().String() || r.JSON200.ToLid == nil || *r.JSON200.ToLid != contact.LID().String() {
				t.Fatalf("send answer %s; want to %s toLid %s", r.Body, contact.JID(), contact.LID())
			}
			sent := r.JSON200.MessageId
			eventually(t, "the contact decrypted "+sent, func() bool {
				for _, m := range contact.Received() {
					if m.ID == sent && m.Text == "hi "+c.name {
						return true
					}
				}
				return false
			})
			ev := e.waitEvent("message.sent", func(d map[string]any) bool { return d["id"] == sent })
			if ev["toLid"] != contact.LID().String() || ev["senderLid"] != ownLID || ev["chatJid"] != contact.JID().String() {
				t.Fatalf("message.sent event %v; want toLid %s senderLid %s", ev, contact.LID(), ownLID)
			}
			g, err := e.c.GetMessageWithResponse(e.ctx, e.sid, contact.JID().String(), sent)
			if err != nil || g.JSON200 == nil {
				t.Fatalf("get sent: %v %s", err, g.Body)
			}
			if m := g.JSON200.Message; m.ToLid == nil || *m.ToLid != contact.LID().String() || m.SenderLid == nil || *m.SenderLid != ownLID {
				t.Fatalf("stored own message: %s", g.Body)
			}
		})
	}
}

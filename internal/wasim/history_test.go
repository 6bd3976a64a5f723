package wasim_test

import (
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

func TestHistorySync(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550050001")
	s.Contact("15550060001")
	c := wasimtest.NewPairedClient(t, s, phone)
	old := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	err := phone.SendHistory(wasimtest.Ctx(t), []wasim.HistoryMessage{
		{Chat: "15550060001", FromMe: true, Text: "old outgoing", ID: "OLD1", Timestamp: old},
		{Chat: "15550060001", FromMe: false, Text: "old incoming", ID: "OLD2", Timestamp: old.Add(time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := wasimtest.WaitFor[*events.HistorySync](t, c.Events, 0, nil)
	convs := hs.Data.GetConversations()
	if len(convs) != 1 || convs[0].GetID() != "15550060001@s.whatsapp.net" || len(convs[0].GetMessages()) != 2 {
		t.Fatalf("history %v", hs.Data)
	}
	seen := map[string]bool{}
	for _, m := range convs[0].GetMessages() {
		evt, err := c.ParseWebMessage(c.Store.GetJID().ToNonAD(), m.GetMessage())
		if err != nil {
			t.Fatal(err)
		}
		seen[evt.Info.ID] = true
		if evt.Info.ID == "OLD1" && (!evt.Info.IsFromMe || !evt.Info.Timestamp.Equal(old) || evt.Message.GetConversation() != "old outgoing") {
			t.Fatalf("OLD1 parsed as %+v", evt.Info)
		}
	}
	if !seen["OLD1"] || !seen["OLD2"] {
		t.Fatalf("ids %v", seen)
	}
	wasimtest.Eventually(t, "history receipt drains the queue", func() bool { return s.Pending(c.Store.GetJID()) == 0 })
}

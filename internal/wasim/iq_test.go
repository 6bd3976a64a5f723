package wasim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

func TestLookupsBlocklistPictureFreeze(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550090001")
	erin := s.Contact("15550090002")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)

	res, err := c.IsOnWhatsApp(ctx, []string{"+15550090002", "+15550099999"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].IsIn || res[0].JID != erin.LID() || res[0].PhoneNumber != erin.JID() || res[1].IsIn {
		t.Fatalf("IsOnWhatsApp = %+v", res)
	}
	if _, err = c.GetProfilePictureInfo(ctx, erin.JID(), nil); !errors.Is(err, whatsmeow.ErrProfilePictureNotSet) {
		t.Fatalf("no picture: err = %v", err)
	}
	erin.SetProfilePicture("https://pps.example/erin.jpg")
	pic, err := c.GetProfilePictureInfo(ctx, erin.JID(), nil)
	if err != nil || pic.URL != "https://pps.example/erin.jpg" {
		t.Fatalf("picture %+v %v", pic, err)
	}
	if _, err = c.UpdateBlocklist(ctx, erin.JID(), events.BlocklistChangeActionBlock); err != nil {
		t.Fatal(err)
	}
	if bl := s.Blocklist(phone.JID().User); len(bl) != 1 || bl[0] != erin.LID().String() {
		t.Fatalf("blocklist %v", bl)
	}
	list, err := c.GetBlocklist(ctx)
	if err != nil || len(list.JIDs) != 1 {
		t.Fatalf("GetBlocklist %+v %v", list, err)
	}
	if _, err = c.UpdateBlocklist(ctx, erin.LID(), events.BlocklistChangeActionUnblock); err != nil {
		t.Fatal(err)
	}
	if bl := s.Blocklist(phone.JID().User); len(bl) != 0 {
		t.Fatalf("blocklist after unblock %v", bl)
	}
	if _, err = c.TryFetchPrivacySettings(ctx, true); err != nil {
		t.Fatal(err)
	}

	// Frozen: the socket stays open but nothing is answered.
	s.Freeze(c.Store.GetJID(), true)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = c.GetBlocklist(short)
	cancel()
	if err == nil {
		t.Fatal("frozen server answered")
	}
	if !s.Connected(c.Store.GetJID()) {
		t.Fatal("freeze closed the connection")
	}
	s.Freeze(c.Store.GetJID(), false)
	if _, err = c.GetBlocklist(ctx); err != nil {
		t.Fatalf("after unfreeze: %v", err)
	}
	if v := s.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

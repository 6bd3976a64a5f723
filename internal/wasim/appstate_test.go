package wasim_test

import (
	"testing"
	"time"

	"go.mau.fi/whatsmeow/appstate"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/wasim/wasimtest"
)

func TestAppStateRoundTrips(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550030001")
	s.Contact("15550040001")
	c := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	chat := types.NewJID("15550040001", types.DefaultUserServer)
	key := chat.String()

	if phone.View().PushName != "User 15550030001" {
		t.Fatalf("push name not in phone view: %+v", phone.View())
	}
	if c.Store.PushName == "" {
		t.Fatal("client did not get the push name")
	}

	steps := []struct {
		name  string
		patch appstate.PatchInfo
		check func(v wasim.PhoneView) bool
	}{
		{"archive", appstate.BuildArchive(chat, true, time.Time{}, nil), func(v wasim.PhoneView) bool { return v.Chats[key].Archived }},
		{"unarchive", appstate.BuildArchive(chat, false, time.Time{}, nil), func(v wasim.PhoneView) bool { return !v.Chats[key].Archived }},
		{"mark unread", appstate.BuildMarkChatAsRead(chat, false, time.Time{}, nil), func(v wasim.PhoneView) bool { return v.Chats[key].MarkedUnread }},
		{"mark read", appstate.BuildMarkChatAsRead(chat, true, time.Time{}, nil), func(v wasim.PhoneView) bool { return !v.Chats[key].MarkedUnread }},
		{"pin chat", appstate.BuildPin(chat, true), func(v wasim.PhoneView) bool { return v.Chats[key].Pinned }},
		{"star", appstate.BuildStar(chat, chat, "MSG1", true, true), func(v wasim.PhoneView) bool {
			return len(v.Starred) == 1 && v.Starred[0] == wasim.StarredRef{Chat: key, ID: "MSG1", FromMe: true}
		}},
		{"unstar", appstate.BuildStar(chat, chat, "MSG1", true, false), func(v wasim.PhoneView) bool { return len(v.Starred) == 0 }},
		{"delete chat", appstate.BuildDeleteChat(chat, time.Time{}, nil, true), func(v wasim.PhoneView) bool { return v.Chats[key].Deleted }},
	}
	for _, st := range steps {
		if err := c.SendAppState(ctx, st.patch); err != nil {
			t.Fatalf("%s: SendAppState: %v", st.name, err)
		}
		// The phone decodes (and verifies) the patch before the server answers.
		if v := phone.View(); !st.check(v) {
			t.Fatalf("%s: phone view %+v", st.name, v)
		}
	}

	// Phone-side change: the client gets a server_sync and emits events.Archive.
	n := c.Events.Len()
	if err := phone.SetArchived(ctx, chat, true); err != nil {
		t.Fatal(err)
	}
	arch := wasimtest.WaitFor[*events.Archive](t, c.Events, n, func(e *events.Archive) bool { return e.JID == chat })
	if !arch.Action.GetArchived() {
		t.Fatal("archive event says not archived")
	}
	if !phone.View().Chats[key].Archived {
		t.Fatal("phone view not archived")
	}
	if v := s.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

func TestAppStateTwoCompanions(t *testing.T) {
	s := wasimtest.NewServer(t)
	phone := s.Phone("15550030002")
	s.Contact("15550040002")
	c1 := wasimtest.NewPairedClient(t, s, phone)
	c2 := wasimtest.NewPairedClient(t, s, phone)
	ctx := wasimtest.Ctx(t)
	chat := types.NewJID("15550040002", types.DefaultUserServer)
	n := c2.Events.Len()
	if err := c1.SendAppState(ctx, appstate.BuildArchive(chat, true, time.Time{}, nil)); err != nil {
		t.Fatal(err)
	}
	wasimtest.WaitFor[*events.Archive](t, c2.Events, n, func(e *events.Archive) bool { return e.JID == chat && e.Action.GetArchived() })
	// Make c2 miss an update (frozen: the server_sync stays queued), then
	// let it upload from the old version: 409 with the missing patch, the
	// client applies it and retries.
	s.Freeze(c2.Store.GetJID(), true)
	if err := c1.SendAppState(ctx, appstate.BuildPin(chat, true)); err != nil {
		t.Fatal(err)
	}
	s.Freeze(c2.Store.GetJID(), false)
	if err := c2.SendAppState(ctx, appstate.BuildArchive(chat, false, time.Time{}, nil)); err != nil {
		t.Fatal(err)
	}
	if s.Counter("appstate:409") != 1 {
		t.Fatalf("want one 409 conflict, got %d", s.Counter("appstate:409"))
	}
	v := phone.View().Chats[chat.String()]
	if v.Archived || !v.Pinned {
		t.Fatalf("phone view %+v", v)
	}
}

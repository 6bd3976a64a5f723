package wasim

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
)

func pin(typ waE2E.PinInChatMessage_Type) *waE2E.Message {
	return &waE2E.Message{
		PinInChatMessage:   &waE2E.PinInChatMessage{Key: &waCommon.MessageKey{ID: proto.String("TARGET")}, Type: typ.Enum()},
		MessageContextInfo: &waE2E.MessageContextInfo{MessageAddOnDurationInSecs: proto.Uint32(86400)},
	}
}

func TestClassifyStrictChecks(t *testing.T) {
	s := &Server{}
	meta := outMeta{id: "X", msgType: "text", t: time.Now()}

	// A pin without edit="2" is a violation and is not delivered.
	if _, ok := s.classify(pin(waE2E.PinInChatMessage_PIN_FOR_ALL), meta); ok {
		t.Fatal("pin without edit=2 was accepted")
	}
	if v := s.Violations(); len(v) != 1 || !strings.Contains(v[0], `edit="2"`) {
		t.Fatalf("violations %v", v)
	}
	meta.edit = "2"
	r, ok := s.classify(pin(waE2E.PinInChatMessage_UNPIN_FOR_ALL), meta)
	if !ok || r.Kind != KindUnpin || r.TargetID != "TARGET" || r.PinDurationSeconds != 86400 {
		t.Fatalf("unpin: ok=%v %+v", ok, r)
	}

	// Revoke needs edit=7, edit needs edit=1, reaction needs type=reaction.
	s2 := &Server{}
	revoke := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(),
		Key: &waCommon.MessageKey{ID: proto.String("T"), FromMe: proto.Bool(true)}}}
	s2.classify(revoke, outMeta{id: "R", edit: ""})
	edit := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
		Key: &waCommon.MessageKey{ID: proto.String("T")}, EditedMessage: &waE2E.Message{Conversation: proto.String("x")}}}
	s2.classify(edit, outMeta{id: "E", edit: "7"})
	react := &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: &waCommon.MessageKey{ID: proto.String("T")}, Text: proto.String("x")}}
	s2.classify(react, outMeta{id: "Re", msgType: "text"})
	if v := s2.Violations(); len(v) != 3 {
		t.Fatalf("want 3 violations, got %v", v)
	}
	// Correct attributes give no violation.
	s3 := &Server{}
	s3.classify(revoke, outMeta{edit: "7"})
	s3.classify(edit, outMeta{edit: "1"})
	s3.classify(react, outMeta{msgType: "reaction"})
	if v := s3.Violations(); len(v) != 0 {
		t.Fatalf("unexpected violations %v", v)
	}
}

func TestParseQR(t *testing.T) {
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	for _, qr := range []string{
		"https://wa.me/settings/linked_devices#2@ref," + key + "," + key + "," + key + ",9",
		"2@ref," + key + "," + key + "," + key,
	} {
		ref, _, _, adv, err := parseQR(qr)
		if err != nil || ref != "2@ref" || len(adv) != 32 {
			t.Fatalf("parseQR(%q) = %q, %v", qr, ref, err)
		}
	}
	if _, _, _, _, err := parseQR("2@ref," + key); err == nil {
		t.Fatal("short QR accepted")
	}
}

package postgres

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// cursor is the opaque position of a page: a time and a tie-breaking id.
type cursor struct {
	T    time.Time `json:"t"`
	ID   string    `json:"i"`
	Null bool      `json:"n,omitempty"` // the time is NULL (chats without messages)
}

func encodeCursor(t time.Time, id string) string {
	b, _ := json.Marshal(cursor{T: t, ID: id, Null: t.IsZero()})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid cursor: pass the nextCursor of the previous page")
	}
	return &c, nil
}

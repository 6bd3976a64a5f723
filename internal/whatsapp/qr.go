package whatsapp

import (
	"errors"

	"github.com/skip2/go-qrcode"
)

// QRPNG renders a QR string (as returned by Manager.QR) as a PNG image of
// size×size pixels (size is clamped to 64..1024; 0 means 256).
func QRPNG(qr string, size int) ([]byte, error) {
	if qr == "" {
		return nil, errors.New("whatsapp: empty QR string")
	}
	switch {
	case size == 0:
		size = 256
	case size < 64:
		size = 64
	case size > 1024:
		size = 1024
	}
	return qrcode.Encode(qr, qrcode.Medium, size)
}

package messaging

import (
	"bytes"
	"encoding/binary"
	"math"
)

// The play time of sent audio and video, read from the bytes already in
// hand (no client declares it): Ogg/Opus from the granule position of the
// last page, MP4/3GPP/M4A from the movie header (mvhd). Both parsers are
// bounded: they look at fixed-size headers and at most maxOggPage bytes
// from the end (Ogg) or at most maxBoxes boxes (MP4), and answer 0 for
// anything they do not understand. Other formats (MP3, AAC, AMR) are sent
// without a duration, as before.

const (
	maxOggPage = 27 + 255 + 255*255 // header, segment table, largest body
	maxBoxes   = 4096
)

// mediaSeconds is the duration of a file of the sniffed MIME type in whole
// seconds (rounded, at least 1 for a non-empty duration), 0 when unknown.
func mediaSeconds(mime string, b []byte) int {
	var d float64
	switch mime {
	case "audio/ogg":
		d = oggOpusDuration(b)
	case "video/mp4", "video/3gpp", "audio/mp4":
		d = mp4Duration(b)
	}
	// Beyond a day is not a voice note or a gateway video; a corrupt header.
	if d <= 0 || math.IsNaN(d) || d > 86400 {
		return 0
	}
	return max(1, int(math.Round(d)))
}

// oggOpusDuration is (last granule position - pre-skip) / 48000: Opus
// granule positions count 48 kHz samples whatever the input rate
// (RFC 7845, section 4).
func oggOpusDuration(b []byte) float64 {
	// The first page carries the OpusHead packet; its pre-skip is the
	// decoder delay the granule positions include.
	if !oggPage(b) || len(b) < 28 {
		return 0
	}
	body := 27 + int(b[26])
	if len(b) < body+12 || string(b[body:body+8]) != "OpusHead" {
		return 0
	}
	preSkip := int64(binary.LittleEndian.Uint16(b[body+10:]))
	serial := binary.LittleEndian.Uint32(b[14:])
	from := max(0, len(b)-maxOggPage)
	for end := len(b); end > from; {
		i := bytes.LastIndex(b[from:end], []byte("OggS"))
		if i < 0 {
			return 0
		}
		p := b[from+i:]
		end = from + i
		if !oggPage(p) || binary.LittleEndian.Uint32(p[14:]) != serial {
			continue
		}
		g := int64(binary.LittleEndian.Uint64(p[6:]))
		if g < 0 { // -1: no packet ends on this page
			continue
		}
		return float64(g-preSkip) / 48000
	}
	return 0
}

// oggPage reports whether p starts with an Ogg page header whose segment
// table fits in p.
func oggPage(p []byte) bool {
	return len(p) >= 27 && string(p[:4]) == "OggS" && p[4] == 0 && len(p) >= 27+int(p[26])
}

// mp4Duration is the movie header's duration / timescale, from the moov
// box among the top-level boxes.
func mp4Duration(b []byte) float64 {
	moov, ok := mp4Box(b, "moov")
	if !ok {
		return 0
	}
	mvhd, ok := mp4Box(moov, "mvhd")
	if !ok || len(mvhd) < 4 {
		return 0
	}
	var scale uint32
	var dur uint64
	switch mvhd[0] { // version
	case 0:
		if len(mvhd) < 20 {
			return 0
		}
		scale, dur = binary.BigEndian.Uint32(mvhd[12:]), uint64(binary.BigEndian.Uint32(mvhd[16:]))
	case 1:
		if len(mvhd) < 32 {
			return 0
		}
		scale, dur = binary.BigEndian.Uint32(mvhd[20:]), binary.BigEndian.Uint64(mvhd[24:])
	default:
		return 0
	}
	if scale == 0 || dur == math.MaxUint32 || dur == math.MaxUint64 { // all ones: unknown
		return 0
	}
	return float64(dur) / float64(scale)
}

// mp4Box is the body of the first box of type typ among the boxes of b
// (not descending), false when there is none or a box header is broken.
func mp4Box(b []byte, typ string) ([]byte, bool) {
	for n := 0; n < maxBoxes && len(b) >= 8; n++ {
		size, hdr := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		switch size {
		case 0: // to the end of the file
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return nil, false
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return nil, false
		}
		if string(b[4:8]) == typ {
			return b[hdr:size], true
		}
		b = b[size:]
	}
	return nil, false
}

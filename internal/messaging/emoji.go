package messaging

import "unicode/utf8"

// maxEmojiBytes bounds a reaction; the longest standard emoji sequences
// (families, flags of subdivisions) stay well below it.
const maxEmojiBytes = 64

// ValidReaction reports whether s is an acceptable reaction: "" (remove the
// reaction) or exactly one emoji, which may be a sequence joined with ZWJ,
// carry skin-tone modifiers and variation selectors, be a flag (a pair of
// regional indicators or a tag sequence), or a keycap ("1️⃣").
func ValidReaction(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > maxEmojiBytes || !utf8.ValidString(s) {
		return false
	}
	clusters := 0
	prevZWJ := false
	pendingRI := false // one regional indicator seen, waiting for its pair
	keycapBase := false
	for _, r := range s {
		switch {
		case r == 0x200D: // zero width joiner
			if clusters == 0 || prevZWJ {
				return false
			}
			prevZWJ = true
			continue
		case r == 0xFE0F || r == 0xFE0E: // variation selectors
			if clusters == 0 {
				return false
			}
		case r == 0x20E3: // combining enclosing keycap
			if !keycapBase {
				return false
			}
			keycapBase = false
		case r >= 0x1F3FB && r <= 0x1F3FF: // skin tone modifiers
			if clusters == 0 {
				return false
			}
		case r >= 0xE0020 && r <= 0xE007F: // tag characters (subdivision flags)
			if clusters == 0 {
				return false
			}
		case r >= 0x1F1E6 && r <= 0x1F1FF: // regional indicators pair into a flag
			if pendingRI {
				pendingRI = false
			} else {
				if !prevZWJ {
					clusters++
				}
				pendingRI = true
			}
		case (r >= '0' && r <= '9') || r == '#' || r == '*':
			if clusters != 0 {
				return false
			}
			clusters++
			keycapBase = true
		case isPictographic(r):
			if !prevZWJ {
				clusters++
			}
		default:
			return false
		}
		prevZWJ = false
		if clusters > 1 {
			return false
		}
	}
	return clusters == 1 && !prevZWJ && !pendingRI && !keycapBase
}

// isPictographic approximates Unicode's Extended_Pictographic property with
// the blocks that hold emoji.
func isPictographic(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF: // mahjong … symbols and pictographs extended-A
		return true
	case r >= 0x2600 && r <= 0x27BF: // misc symbols, dingbats
		return true
	case r >= 0x2300 && r <= 0x23FF: // misc technical (⌚, ⏰)
		return true
	case r >= 0x2B00 && r <= 0x2BFF: // arrows, ⭐, ⭕
		return true
	case r >= 0x2190 && r <= 0x21FF: // arrows
		return true
	case r >= 0x25A0 && r <= 0x25FF: // geometric shapes
		return true
	case r >= 0x2934 && r <= 0x2935:
		return true
	case r == 0x00A9 || r == 0x00AE || r == 0x203C || r == 0x2049 || r == 0x2122 ||
		r == 0x2139 || r == 0x24C2 || r == 0x3030 || r == 0x303D || r == 0x3297 || r == 0x3299:
		return true
	}
	return false
}

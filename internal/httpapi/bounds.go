package httpapi

import (
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// numberReason is kin-openapi's reason for err, with numeric bounds in
// plain digits ("at most 2147483647", not "2.147483647e+09": every integer
// of openapi.yaml has a maximum that fits its column) and literals past
// float64 (1e400, which kin-openapi cannot convert) reported against the
// schema's bounds.
func numberReason(err *openapi3.SchemaError) string {
	s := err.Schema
	if s == nil {
		return err.Reason
	}
	switch {
	case err.SchemaField == "maximum" && s.Max != nil:
		return "number must be at most " + formatBound(*s.Max)
	case err.SchemaField == "minimum" && s.Min != nil:
		return "number must be at least " + formatBound(*s.Min)
	case strings.HasPrefix(err.Reason, "cannot convert json.Number"):
		lit, _ := err.Value.(interface{ String() string })
		negative := lit != nil && strings.HasPrefix(lit.String(), "-")
		switch {
		case negative && s.Min != nil:
			return "number must be at least " + formatBound(*s.Min)
		case !negative && s.Max != nil:
			return "number must be at most " + formatBound(*s.Max)
		}
		return "number is out of range"
	}
	return err.Reason
}

func formatBound(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

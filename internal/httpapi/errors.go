package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// statusByCode is the one table from domain error codes to HTTP statuses.
var statusByCode = map[gateway.Code]int{
	gateway.CodeInvalid:       http.StatusBadRequest,
	gateway.CodeUnauthorized:  http.StatusUnauthorized,
	gateway.CodeForbidden:     http.StatusForbidden,
	gateway.CodeNotFound:      http.StatusNotFound,
	gateway.CodeConflict:      http.StatusConflict,
	gateway.CodeTooLarge:      http.StatusRequestEntityTooLarge,
	gateway.CodeUnprocessable: http.StatusUnprocessableEntity,
	gateway.CodeRateLimited:   http.StatusTooManyRequests,
	gateway.CodeUnavailable:   http.StatusServiceUnavailable,
	gateway.CodeInternal:      http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for a domain error code (500 for unknown
// codes).
func StatusOf(code gateway.Code) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// toDomainError turns anything a handler, middleware, Echo or the validator
// returned into a *gateway.Error with a client-safe message.
func toDomainError(err error) *gateway.Error {
	var ge *gateway.Error
	if errors.As(err, &ge) {
		if ge.Code == gateway.CodeInternal || statusByCode[ge.Code] == 0 {
			return &gateway.Error{Code: gateway.CodeInternal, Message: gateway.MsgInternal, Err: err}
		}
		return ge
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return &gateway.Error{Code: gateway.CodeNotFound, Message: gateway.MsgRouteNotFound, Err: err}
		case http.StatusMethodNotAllowed:
			return &gateway.Error{Code: codeMethodNotAllowed, Message: gateway.MsgMethodNotAllowed, Err: err}
		case http.StatusRequestEntityTooLarge:
			return &gateway.Error{Code: gateway.CodeTooLarge, Message: gateway.MsgBodyTooLarge, Err: err}
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			// Binding errors of the generated wrappers (the validator normally
			// catches these first). Their messages name the parameter only.
			return &gateway.Error{Code: gateway.CodeInvalid, Message: httpErrorMessage(he), Err: err}
		case http.StatusUnauthorized:
			return &gateway.Error{Code: gateway.CodeUnauthorized, Message: gateway.MsgInvalidAPIKey, Err: err}
		case http.StatusForbidden:
			return &gateway.Error{Code: gateway.CodeForbidden, Message: httpErrorMessage(he), Err: err}
		case http.StatusServiceUnavailable:
			return &gateway.Error{Code: gateway.CodeUnavailable, Message: httpErrorMessage(he), Err: err}
		}
	}
	return &gateway.Error{Code: gateway.CodeInternal, Message: gateway.MsgInternal, Err: err}
}

// codeMethodNotAllowed is an HTTP-only code: 405 has no domain meaning.
const codeMethodNotAllowed gateway.Code = "method_not_allowed"

func init() { statusByCode[codeMethodNotAllowed] = http.StatusMethodNotAllowed }

func httpErrorMessage(he *echo.HTTPError) string {
	if s, ok := he.Message.(string); ok && s != "" {
		return s
	}
	if t := http.StatusText(he.Code); t != "" {
		return t
	}
	return fmt.Sprint(he.Message)
}

// errorHandler is Echo's HTTPErrorHandler and the only place that writes
// error bodies: {"success":false,"error":...} (+retryAfter), the status from
// statusByCode. Internal errors are logged with their cause and answered
// with MsgInternal.
func errorHandler(log zerolog.Logger, classify func(error) error) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		ge := toDomainError(err)
		if ge.Code == gateway.CodeInternal && classify != nil {
			if cerr := classify(err); cerr != nil {
				if ce := toDomainError(cerr); ce.Code != gateway.CodeInternal {
					ge = ce
				}
			}
		}
		status := StatusOf(ge.Code)
		l := zerolog.Ctx(c.Request().Context())
		if l.GetLevel() == zerolog.Disabled {
			l = &log
		}
		if status >= 500 && status != http.StatusServiceUnavailable {
			l.Error().Err(err).Int("status", status).Msg("request failed")
		} else {
			l.Debug().Err(err).Int("status", status).Msg("request rejected")
		}
		body := api.ErrorResponse{Success: false, Error: ge.Message}
		if ge.RetryAfter > 0 {
			ra := ge.RetryAfter
			body.RetryAfter = &ra
			c.Response().Header().Set("Retry-After", strconv.Itoa(ra))
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		if werr := c.JSON(status, body); werr != nil {
			l.Error().Err(werr).Msg("write error response")
		}
	}
}

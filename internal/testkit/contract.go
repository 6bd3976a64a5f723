package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/wagate-dev/wagate/internal/httpapi"
)

var contractSpec struct {
	once   sync.Once
	spec   *openapi3.T
	router routers.Router
	err    error
}

func loadContract() (*openapi3.T, routers.Router, error) {
	contractSpec.once.Do(func() {
		contractSpec.spec, contractSpec.err = httpapi.LoadSpec()
		if contractSpec.err == nil {
			contractSpec.router, contractSpec.err = legacy.NewRouter(contractSpec.spec, openapi3.EnableSchemaFormatValidation())
		}
	})
	return contractSpec.spec, contractSpec.router, contractSpec.err
}

// ContractTransport is an http.RoundTripper that validates every exchange
// against openapi.yaml with openapi3filter.ValidateResponse
// (IncludeResponseStatus: an undocumented status fails) and fails the test
// on any violation. Requests that match no operation must be answered 404 or
// 405 with the error schema. Every 4xx/5xx body must have success false.
// 500, 502 and 504 fail the test unless AllowServerErrors is set.
type ContractTransport struct {
	TB                testing.TB
	Next              http.RoundTripper // http.DefaultTransport when nil
	AllowServerErrors bool
}

// RoundTrip implements http.RoundTripper.
func (t *ContractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if msg := t.check(req, resp, body); msg != "" {
		t.TB.Errorf("contract violation: %s %s -> %d: %s\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, msg, truncate(body))
	}
	return resp, nil
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

func (t *ContractTransport) check(req *http.Request, resp *http.Response, body []byte) string {
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		if !t.AllowServerErrors {
			return "server error"
		}
	}
	if resp.StatusCode >= 400 && req.Method != http.MethodHead {
		if msg := checkErrorBody(body); msg != "" {
			return msg
		}
	}
	_, router, err := loadContract()
	if err != nil {
		return "load spec: " + err.Error()
	}
	// Route on a clone: the validator must see the request as the server did.
	probe := req.Clone(context.Background())
	route, params, err := httpapi.MatchRoute(router, probe)
	if err != nil {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			return "no operation matches this request, yet the answer is not 404/405"
		}
		return ""
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: httpapi.SchemaValidationOptions(),
		},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err.Error()
	}
	return ""
}

// checkErrorBody requires exactly {"success": false, "error": "...",
// "retryAfter"?: n}.
func checkErrorBody(body []byte) string {
	var e struct {
		Success    *bool   `json:"success"`
		Error      *string `json:"error"`
		RetryAfter *int    `json:"retryAfter"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return "error body is not the error schema: " + err.Error()
	}
	if e.Success == nil || *e.Success || e.Error == nil || strings.TrimSpace(*e.Error) == "" {
		return `error body must have "success": false and a non-empty "error"`
	}
	return ""
}

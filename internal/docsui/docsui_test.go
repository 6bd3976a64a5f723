package docsui_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"

	"github.com/wagate-dev/wagate"
	"github.com/wagate-dev/wagate/internal/docsui"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	e := echo.New()
	docsui.Register(e)
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return ts
}

// get fetches path without following redirects and without transparent gzip,
// so the test sees exactly what the server sent.
func get(t *testing.T, ts *httptest.Server, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestDocsRedirect(t *testing.T) {
	t.Parallel()
	ts := newServer(t)
	resp, _ := get(t, ts, "/docs", nil)
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Fatalf("GET /docs: status %d, want 301", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "/docs/" {
		t.Fatalf("GET /docs: Location %q, want /docs/", loc)
	}
}

func TestDocsIndex(t *testing.T) {
	t.Parallel()
	ts := newServer(t)
	resp, body := get(t, ts, "/docs/", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q, want text/html", ct)
	}
	html := string(body)
	for _, want := range []string{`src="swagger-ui-bundle.js"`, `src="init.js"`, `href="swagger-ui.css"`, `id="swagger-ui"`} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	// No inline script and nothing loaded from another origin.
	if strings.Count(html, "<script") != strings.Count(html, "<script src=") {
		t.Error("index.html has an inline <script>")
	}
	for _, bad := range []string{"http://", "https://", "//cdn", "unpkg", "jsdelivr"} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html references %q", bad)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

func TestDocsInit(t *testing.T) {
	t.Parallel()
	ts := newServer(t)
	resp, body := get(t, ts, "/docs/init.js", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Fatalf("Content-Type %q", ct)
	}
	js := string(body)
	for _, want := range []string{`"../openapi.json"`, "validatorUrl: null", "persistAuthorization: true"} {
		if !strings.Contains(js, want) {
			t.Errorf("init.js lacks %s", want)
		}
	}
}

func TestDocsAssetsGzip(t *testing.T) {
	t.Parallel()
	ts := newServer(t)
	for path, ctype := range map[string]string{
		"/docs/swagger-ui-bundle.js": "javascript",
		"/docs/swagger-ui.css":       "text/css",
		"/docs/favicon-32x32.png":    "image/png",
	} {
		plain, raw := get(t, ts, path, nil)
		if plain.StatusCode != http.StatusOK || !strings.Contains(plain.Header.Get("Content-Type"), ctype) {
			t.Fatalf("GET %s: %d %q", path, plain.StatusCode, plain.Header.Get("Content-Type"))
		}
		if plain.Header.Get("Content-Encoding") != "" {
			t.Fatalf("GET %s without Accept-Encoding came back encoded", path)
		}
		if ctype == "image/png" {
			continue
		}
		zipped, body := get(t, ts, path, map[string]string{"Accept-Encoding": "gzip"})
		if zipped.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET %s: not gzipped", path)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(unzipped, raw) {
			t.Fatalf("GET %s: gzip body differs from the plain one", path)
		}
		if len(body)*2 > len(raw) {
			t.Errorf("GET %s: gzip %d bytes of %d: barely compressed", path, len(body), len(raw))
		}
	}
	if resp, _ := get(t, ts, "/docs/nope.js", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /docs/nope.js: %d, want 404", resp.StatusCode)
	}
}

func TestOpenAPIJSON(t *testing.T) {
	t.Parallel()
	ts := newServer(t)
	resp, body := get(t, ts, "/openapi.json", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers must be [{url: /}] so Try-it-out stays on this origin, got %+v", doc.Servers)
	}
	// operationIds keep their spec casing (preserve-original-operation-id-casing).
	if op := doc.Paths.Find("/healthz"); op == nil || op.Get == nil || op.Get.OperationID != "getHealth" {
		t.Errorf("GET /healthz operationId not getHealth")
	}
	// Same operations as the YAML on disk.
	var y struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(wagate.OpenAPIYAML, &y); err != nil {
		t.Fatal(err)
	}
	if got, want := countOps(doc), countYAMLOps(y.Paths); got != want || got == 0 {
		t.Errorf("openapi.json has %d operations, openapi.yaml %d", got, want)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
}

func TestOpenAPIYAML(t *testing.T) {
	t.Parallel()
	ts := newServer(t)
	resp, body := get(t, ts, "/openapi.yaml", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Fatalf("Content-Type %q", ct)
	}
	if !bytes.Equal(body, wagate.OpenAPIYAML) {
		t.Fatal("/openapi.yaml differs from openapi.yaml")
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("validate: %v", err)
	}
}

func countOps(doc *openapi3.T) int {
	n := 0
	for _, item := range doc.Paths.Map() {
		n += len(item.Operations())
	}
	return n
}

func countYAMLOps(paths map[string]map[string]any) int {
	n := 0
	for _, item := range paths {
		for k := range item {
			switch k {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				n++
			}
		}
	}
	return n
}

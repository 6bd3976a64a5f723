// Package docsui serves the interactive API documentation: Swagger UI from
// files embedded in the binary (swagger-ui-dist 5.35.0, no CDN, so it works
// offline), the contract as JSON (the spec embedded in gen/api) and as the
// original YAML (wagate.OpenAPIYAML).
//
// Routes registered by Register:
//
//	GET /docs          301 -> /docs/
//	GET /docs/*        Swagger UI (gzip when the client accepts it)
//	GET /openapi.json  the embedded spec, JSON
//	GET /openapi.yaml  openapi.yaml exactly as written
//
// None of them needs an API key: the contract is public, and "Try it out"
// sends the key the user types under "Authorize" to this same origin.
package docsui

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/wagate-dev/wagate"
	"github.com/wagate-dev/wagate/gen/api"
)

//go:embed swagger-ui
var files embed.FS

// contentSecurityPolicy allows only this origin. Swagger UI needs inline
// styles (React style attributes) and data: images (its SVG icons); it needs
// no inline script, because index.html loads init.js.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; " +
	"base-uri 'self'; frame-ancestors 'self'; form-action 'self'"

// Register mounts the docs UI and the two spec documents on e. It panics if
// the embedded spec cannot be decoded, which is a build defect, not a
// runtime condition.
func Register(e *echo.Echo) {
	specJSON, err := api.GetSpecJSON()
	if err != nil {
		panic(fmt.Sprintf("docsui: decoding the embedded spec: %v", err))
	}
	ui, err := fs.Sub(files, "swagger-ui")
	if err != nil {
		panic(fmt.Sprintf("docsui: %v", err))
	}
	gz := middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024})

	e.GET("/openapi.json", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, specJSON)
	}, gz)
	e.GET("/openapi.yaml", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
		return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", wagate.OpenAPIYAML)
	}, gz)

	g := e.Group("/docs", gz, securityHeaders)
	g.GET("", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "/docs/")
	})
	static := http.StripPrefix("/docs/", http.FileServer(http.FS(ui)))
	g.GET("/*", echo.WrapHandler(static))
}

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

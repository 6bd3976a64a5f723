// Package dashboard serves a small operator page at /dashboard: it asks for
// the admin key, lists the sessions with their state (polling GET /sessions
// every 2 seconds and highlighting changes) and shows the QR code of sessions
// waiting to be linked (GET /sessions/{id}/qr?format=png, or the raw QR
// string when no PNG is available).
//
// The page is static HTML, CSS and JavaScript embedded in the binary: no CDN,
// no inline script, and a Content-Security-Policy that only allows this
// origin. It holds no secret and needs no key to load; every API call it
// makes carries the admin key the user typed, in the X-API-Key header.
package dashboard

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

//go:embed static
var files embed.FS

const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Register mounts the dashboard on e: GET /dashboard redirects to
// /dashboard/, which serves the page and its assets.
func Register(e *echo.Echo) {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(fmt.Sprintf("dashboard: %v", err))
	}
	g := e.Group("/dashboard", middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024}), headers)
	g.GET("", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "/dashboard/")
	})
	g.GET("/*", echo.WrapHandler(http.StripPrefix("/dashboard/", http.FileServer(http.FS(sub)))))
}

func headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set(echo.HeaderCacheControl, "no-cache")
		return next(c)
	}
}

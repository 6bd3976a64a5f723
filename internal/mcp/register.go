package mcp

import "github.com/labstack/echo/v4"

// Path is where the MCP server is served.
const Path = "/mcp"

// Register serves h at Path on e (GET, POST and DELETE of the streamable
// HTTP transport); authentication errors go to e's error writer.
func Register(e *echo.Echo, h *Handler) {
	e.Match([]string{"GET", "POST", "DELETE"}, Path, func(c echo.Context) error {
		return h.Serve(c.Response(), c.Request())
	})
}

package httpapi

import (
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// Router finds a request's operation in the spec by the rules MatchRoute
// documents, compiled once into a tree of path segments. It replaces
// kin-openapi's legacy router plus MatchRoute's check against every path
// in matching order, which re-sorted the spec's paths on every request
// (19 % of an authenticated status request's CPU in
// BenchmarkHotPathStatus).
//
// At each segment a literal child is tried before the parameter child, so
// the first template that matches is the most concrete one (a literal wins
// at the first segment where two templates differ). When that path lacks
// the request's method the answer is ErrMethodNotAllowed, never a less
// concrete path that has it.
type Router struct {
	root *routeNode
}

type routeNode struct {
	literal map[string]*routeNode
	param   *routeNode
	// names are the parameter names of the template ending here, in order;
	// ops its operations by method.
	names []string
	ops   map[string]*routers.Route
}

var _ routers.Router = (*Router)(nil)

// NewRouter compiles the paths of spec (whose Servers must be empty: paths
// are at the root).
func NewRouter(spec *openapi3.T) *Router {
	r := &Router{root: &routeNode{}}
	for _, path := range spec.Paths.InMatchingOrder() {
		item := spec.Paths.Value(path)
		n := r.root
		var names []string
		for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
			if isParam(seg) {
				names = append(names, seg[1:len(seg)-1])
				if n.param == nil {
					n.param = &routeNode{}
				}
				n = n.param
				continue
			}
			if n.literal == nil {
				n.literal = map[string]*routeNode{}
			}
			c := n.literal[seg]
			if c == nil {
				c = &routeNode{}
				n.literal[seg] = c
			}
			n = c
		}
		n.names = names
		n.ops = map[string]*routers.Route{}
		for method, op := range item.Operations() {
			n.ops[method] = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	return r
}

var (
	errRouteNotFound = &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
	errRouteNoMethod = &routers.RouteError{Reason: routers.ErrMethodNotAllowed.Error()}
)

// FindRoute implements routers.Router.
func (r *Router) FindRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	p := req.URL.Path
	if p == "" || p[0] != '/' || strings.Contains(p, "//") || len(p) > 1 && strings.HasSuffix(p, "/") {
		return nil, nil, errRouteNotFound
	}
	var vals [8]string
	n, k := r.root.match(strings.Trim(p, "/"), vals[:0])
	if n == nil {
		return nil, nil, errRouteNotFound
	}
	route := n.ops[req.Method]
	if route == nil {
		return nil, nil, errRouteNoMethod
	}
	params := make(map[string]string, len(n.names))
	for i, name := range n.names {
		params[name] = k[i]
	}
	return route, params, nil
}

// match walks rest ("a/b/c", no leading or trailing slash) from n and
// returns the node of the most concrete template with operations, and the
// parameter values bound on the way.
func (n *routeNode) match(rest string, vals []string) (*routeNode, []string) {
	if rest == "" {
		if n.ops != nil {
			return n, vals
		}
		return nil, nil
	}
	seg, tail, _ := strings.Cut(rest, "/")
	if seg == "" {
		return nil, nil
	}
	if c := n.literal[seg]; c != nil {
		if m, v := c.match(tail, vals); m != nil {
			return m, v
		}
	}
	if n.param != nil {
		if m, v := n.param.match(tail, append(vals, seg)); m != nil {
			return m, v
		}
	}
	return nil, nil
}

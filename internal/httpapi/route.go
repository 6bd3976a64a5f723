package httpapi

import (
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/routers"
)

// MatchRoute finds the operation of req with router, as OpenAPI defines
// matching, which kin-openapi's legacy router does not quite do:
//
//   - a path parameter never binds the empty string: the router matched
//     DELETE /sessions against DELETE /sessions/{id} with id "" (and likewise
//     every list path whose item path has the method);
//   - a path with an empty segment (a trailing slash, "//") is no path of
//     the spec: the router ignored trailing slashes, or bound "" to a
//     parameter, depending on its map order;
//   - a concrete path wins over a templated one: GET /sessions/create is the
//     path /sessions/create (which has only POST), not GET /sessions/{id}
//     with id "create"; DELETE /sessions/{id}/chats/batch is not
//     deleteChat.
//
// Such a request names a known path with a method it does not have (405,
// see routeError) or no path at all (404), never an operation.
func MatchRoute(router routers.Router, req *http.Request) (*routers.Route, map[string]string, error) {
	if r, ok := router.(*Router); ok { // compiled with these rules
		return r.FindRoute(req)
	}
	if p := req.URL.Path; strings.Contains(p, "//") || len(p) > 1 && strings.HasSuffix(p, "/") {
		return nil, nil, &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range params {
		if v == "" {
			return nil, nil, &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
		}
	}
	if route.Spec != nil && route.Spec.Paths != nil {
		segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
		matched := strings.Split(strings.Trim(route.Path, "/"), "/")
		for _, p := range route.Spec.Paths.InMatchingOrder() {
			if p != route.Path && moreConcrete(strings.Split(strings.Trim(p, "/"), "/"), matched, segs) {
				return nil, nil, &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
			}
		}
	}
	return route, params, nil
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// moreConcrete tells whether the path template cand matches the request
// segments segs and has a literal segment where the matched template has
// its first differing segment, a parameter.
func moreConcrete(cand, matched, segs []string) bool {
	if len(cand) != len(segs) || len(matched) != len(segs) {
		return false
	}
	for i, s := range cand {
		if !isParam(s) && s != segs[i] {
			return false
		}
	}
	for i := range cand {
		if cand[i] != matched[i] {
			return !isParam(cand[i]) && isParam(matched[i])
		}
	}
	return false
}

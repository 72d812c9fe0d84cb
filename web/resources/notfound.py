"""The answer for a path no route serves: say where the API is."""
from web.errors import NotFoundError

API = "/api/v1"


class RouteHint:
    """Sink for every unknown path: a 404 that names the likely intended URL.

    `find` is the app router's `find(path)`: when the same path under
    `/api/v1` is a route, the hint names it (a caller who forgot the prefix).
    """

    auth = "public"

    def __init__(self, find):
        self.find = find

    def __call__(self, req, resp, **params):
        path = req.path
        if not path.startswith(API + "/") and self.find(API + path) is not None:
            raise NotFoundError(f"{req.method} {path} does not exist: the API lives under {API}. "
                                f"Did you mean {req.method} {API}{path}?",
                                f"no route {path}; {API}{path} is one", code="route_not_found")
        raise NotFoundError(f"{req.method} {path} does not exist. The API lives under {API}/ (for example "
                            f"{API}/workflows) and its endpoints are described at {API}/openapi.json and /api/docs; "
                            "people's pages are /approvals/{token} and /runs/{id}; operators' are "
                            "/ops/dramatiq/, /ops/mail and /metrics.",
                            f"no route {path}", code="route_not_found")

"""Plain WSGI handlers in front of Django for a few hot paths (the Stripe webhook).

CUSTORY_WSGI_FAST_ROUTES maps a path prefix to the dotted path of a handler (resolved with
import_string, as Django resolves middleware, so the core imports no domain app). A handler
takes the WSGI environ and returns (status, headers, body chunks), or None to hand the request
to Django unchanged. A handler answers without Django's middleware and URL resolving: it owns
every check those would have made for it.
"""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.utils.module_loading import import_string

Handler = Callable[[dict], tuple[str, list[tuple[str, str]], Iterable[bytes]] | None]


def with_fast_routes(application: Callable) -> Callable:
    """The WSGI application: the fast routes first, Django for everything else."""
    routes = [
        (prefix, import_string(path))
        for prefix, path in getattr(settings, "CUSTORY_WSGI_FAST_ROUTES", {}).items()
    ]
    if not routes:
        return application

    def dispatch(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, handler in routes:
            if path.startswith(prefix):
                answer = handler(environ)
                if answer is not None:
                    status, headers, body = answer
                    start_response(status, headers)
                    return body
        return application(environ, start_response)

    return dispatch

"""Response headers every page gets: pages and exports with customer data are never stored."""

from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    """Adds `Cache-Control: no-store` unless the view chose its own caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response

"""Small HTTP helpers every app's views share: query strings, safe redirects, cheap paging."""

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

PAGE_SIZE = 25


def query_without(request: HttpRequest, *names: str) -> str:
    """The request's query string without the given parameters (for links that replace them)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def safe_next(request: HttpRequest, default: str) -> str:
    """The `next` parameter when it points back into this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class Page:
    """One page of rows without counting them all: fetch one extra row to know if more follow."""

    def __init__(self, rows: list, number: int, page_size: int):
        self.has_next = len(rows) > page_size
        self.object_list = rows[:page_size]
        self.number = number
        self.has_previous = number > 1
        self.start_index = (number - 1) * page_size + 1 if self.object_list else 0
        self.end_index = (number - 1) * page_size + len(self.object_list)

    def __iter__(self):
        return iter(self.object_list)

    def next_page_number(self):
        return self.number + 1

    def previous_page_number(self):
        return self.number - 1


def page_of(queryset, page: str | None, page_size: int = PAGE_SIZE) -> Page:
    """Page `page` (1-based, anything else is page 1) of a queryset, in one query."""
    try:
        number = max(1, int(page or 1))
    except ValueError:
        number = 1
    offset = (number - 1) * page_size
    return Page(list(queryset[offset : offset + page_size + 1]), number, page_size)

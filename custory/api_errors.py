"""The API's error answers: JSON with a `detail` sentence (kept apart: DRF's views import it)."""

from rest_framework import exceptions
from rest_framework.views import exception_handler


def api_exception_handler(exc, context):
    """DRF's JSON errors, with `detail` always a sentence a person can act on."""
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.Throttled):
        wait = f" in {exc.wait:.0f} s" if exc.wait else " later"
        response.data = {"detail": f"Too many requests for this token; try again{wait}."}
    return response

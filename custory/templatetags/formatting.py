"""Time filters every template has (a builtin): {{ at|when }}, {{ d|day }}, {{ s|duration }}."""

from django import template

from custory.formatting import day_text, duration_text, when_text

register = template.Library()

register.filter("when", when_text)
register.filter("day", day_text)
register.filter("duration", duration_text)

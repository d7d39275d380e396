"""{% icon "name" %}: a Lucide icon (vendored in static/vendor/lucide/), inlined, decorative."""

import re
from functools import cache

from django import template
from django.conf import settings
from django.utils.safestring import mark_safe

register = template.Library()

ICON_DIR = settings.BASE_DIR / "static" / "vendor" / "lucide" / "icons"
_NAME = re.compile(r"[a-z0-9-]+")


@cache
def icon_svg(name: str) -> str:
    """The icon's SVG, sized by CSS (1em) and hidden from assistive technology."""
    if not _NAME.fullmatch(name) or not (ICON_DIR / f"{name}.svg").is_file():
        raise template.TemplateSyntaxError(f"No vendored Lucide icon named {name!r}.")
    text = (ICON_DIR / f"{name}.svg").read_text()
    svg = text[text.index("<svg") :]
    svg = re.sub(r'\s*(class|width|height)="[^"]*"', "", svg, count=3)
    svg = svg.replace(
        "<svg", f'<svg class="icon icon-{name}" aria-hidden="true" focusable="false"', 1
    )
    return " ".join(svg.split())


@register.simple_tag
def icon(name: str) -> str:
    return mark_safe(icon_svg(name))  # noqa: S308 — a vendored file, checked name

"""Shared components as template tags: {% emptystate "icon" %}message{% endemptystate %}."""

from django import template
from django.template.loader import render_to_string

register = template.Library()


class EmptyStateNode(template.Node):
    def __init__(self, nodelist, icon):
        self.nodelist, self.icon = nodelist, icon

    def render(self, context):
        return render_to_string(
            "_empty.html",
            {"icon": self.icon.resolve(context), "message": self.nodelist.render(context)},
        ).strip()


@register.tag
def emptystate(parser, token):
    """Render templates/_empty.html around the enclosed message; the icon defaults to "inbox"."""
    bits = token.split_contents()
    if len(bits) > 2:
        raise template.TemplateSyntaxError("{% emptystate %} takes at most an icon name.")
    icon = parser.compile_filter(bits[1] if len(bits) == 2 else '"inbox"')
    nodelist = parser.parse(("endemptystate",))
    parser.delete_first_token()
    return EmptyStateNode(nodelist, icon)

"""One design system: colours only as tokens, no inline styles, one empty state for every list."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.template.loader import get_template

from billing.models import SignalKind

ROOT = Path(settings.BASE_DIR)
TOKENS = ROOT / "static" / "css" / "tokens.css"
CSS = ROOT / "static" / "css" / "custory.css"
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
# Email clients drop stylesheets: an email spells its colours inline, but only the tokens' values.
EMAILS = [path for path in TEMPLATES if "email" in path.parts]
PAGES = [path for path in TEMPLATES if path not in EMAILS]
# Python that draws SVG charts and icons: its colours come from CSS classes too.
DRAWING_CODE = [
    ROOT / "custory" / "charts.py",
    ROOT / "custory" / "templatetags" / "icons.py",
    ROOT / "billing" / "templatetags" / "billing_tags.py",
    ROOT / "journeys" / "revenue_charts.py",
]
HEX = re.compile(r"(?<![\w&])#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4})\b")
# In markup and Python a colour is a value (after ":", "(", "," or an attribute's quote, never a
# link's); "#add" in href="#add" or "Issue #123" in a sentence is not one.
HEX_VALUE = re.compile(
    r"(?:[:(,]\s*|(?<!href=)[\"'])(#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4}))\b"
)
COLOUR_FUNCTION = re.compile(r"\b(?:rgba?|hsla?)\(")
NAMED = re.compile(
    r"(?:fill|stroke|color|background)\s*[=:]\s*[\"']?(white|black|red|green|blue|gray|grey)\b"
)


def tokens() -> dict[str, str]:
    return dict(re.findall(r"--([a-z0-9-]+):\s*([^;]+);", TOKENS.read_text()))


def colours_in(path: Path) -> list[str]:
    text = path.read_text()
    hexes = HEX.findall(text) if path.suffix == ".css" else HEX_VALUE.findall(text)
    return hexes + COLOUR_FUNCTION.findall(text) + NAMED.findall(text)


def test_colours_are_spelled_only_in_the_tokens_file():
    stylesheets = [p for p in (ROOT / "static" / "css").glob("*.css") if p != TOKENS]
    scripts = list((ROOT / "static" / "js").glob("*.js"))
    found = [
        f"{path.relative_to(ROOT)}: {colour}"
        for path in [*stylesheets, *scripts, *PAGES, *DRAWING_CODE]
        for colour in colours_in(path)
    ]
    assert found == []


def test_the_check_catches_a_one_off_colour(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<p class="x">a</p><svg><line stroke="#9aa0ad"/><rect fill="white"/></svg>')
    assert colours_in(page) == ["#9aa0ad", "white"]
    page.write_text('<a href="#add">Add</a> <p>Issue #123</p> {{ x|default:"" }}')
    assert colours_in(page) == []
    sheet = tmp_path / "page.css"
    sheet.write_text(".a { color: var(--text); } .b { border-color: #e0a000; }")
    assert colours_in(sheet) == ["#e0a000"]


def test_emails_use_only_the_tokens_colours():
    palette = {value.strip().lower() for value in tokens().values()}
    strays = [
        f"{path.name}: {colour}"
        for path in EMAILS
        for colour in HEX_VALUE.findall(path.read_text())
        if colour.lower() not in palette
    ]
    assert EMAILS and strays == []


def test_no_page_carries_inline_styles():
    inline = [str(p.relative_to(ROOT)) for p in PAGES + DRAWING_CODE if "style=" in p.read_text()]
    assert inline == []


def luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


TEXT_PAIRS = [
    ("text", "surface"), ("text", "bg"), ("muted", "surface"), ("muted", "bg"),
    ("muted", "surface-2"), ("accent", "surface"), ("accent", "bg"), ("accent", "accent-soft"),
    ("accent-text", "accent"), ("accent-text", "accent-hover"), ("danger", "surface"),
    ("danger", "danger-soft"), ("danger-text", "danger"), ("warn", "warn-soft"), ("ok", "ok-soft"),
    ("ink-text", "ink"), ("highlight-text", "highlight"), ("text", "surface-warm"),
]  # fmt: skip


@pytest.mark.parametrize(("fore", "back"), TEXT_PAIRS)
def test_text_tokens_meet_wcag_aa_on_their_backgrounds(fore, back):
    palette = tokens()
    assert contrast(palette[fore], palette[back]) >= 4.5


def test_chart_colours_stand_out_from_the_page():
    chart = {name: value for name, value in tokens().items() if name.startswith("chart-")}
    series = {
        n: v for n, v in chart.items() if n not in ("chart-axis", "chart-grid", "chart-hover")
    }
    assert len(series) >= 10
    assert all(contrast(value, tokens()["surface"]) >= 4.5 for value in series.values())


def test_every_signal_kind_has_a_series_colour():
    css = CSS.read_text()
    missing = [kind for kind in SignalKind.values if f".series-{kind} " not in css + " "]
    missing = [kind for kind in missing if not re.search(rf"\.series-{kind}\b", css)]
    assert missing == []


EMPTY_BRANCH = re.compile(r"{%\s*empty\s*%}(.*?){%\s*endfor\s*%}", re.S)


def test_every_empty_list_renders_the_shared_empty_state():
    # An {% empty %} that renders markup (a row, an item, a section) must go through the partial;
    # a word inside a sentence ("none", "—") is not a list's empty state.
    bare = [
        f"{path.relative_to(ROOT)}: {branch.strip()[:60]}"
        for path in PAGES
        for branch in EMPTY_BRANCH.findall(path.read_text())
        if "<" in branch and "{% emptystate" not in branch
    ]
    assert bare == []


def test_no_page_makes_its_own_empty_state():
    own = [
        str(p.relative_to(ROOT))
        for p in PAGES
        if re.search(r'class="[^"]*(?<![\w-])(empty|empty-lane)(?![\w-])', p.read_text())
    ]
    assert own == []


def test_the_empty_state_tag_renders_the_partial_with_its_icon_and_message():
    html = Template(
        '{% emptystate "users" %}No customers match “{{ q }}”. '
        '<a href="/x">Clear</a>{% endemptystate %}'
    ).render(Context({"q": "<b>"}))
    assert html.startswith('<div class="empty-state">')
    assert 'class="icon icon-users"' in html
    assert "No customers match “&lt;b&gt;”." in html
    assert '<a href="/x">Clear</a>' in html


def test_an_empty_task_list_shows_the_shared_empty_state(client_for, member, workspace):
    html = client_for(member).get(f"/w/{workspace.slug}/tasks/?status=done").content.decode()
    assert 'class="empty-state"' in html
    assert "No tasks match these filters." in html


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_every_page_template_compiles(path):
    get_template(str(path.relative_to(ROOT / "templates")))


def test_template_comments_close_on_their_line():
    # Django prints a {# … #} comment that spans lines as text on the page.
    open_comments = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in TEMPLATES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.count("{#") > line.count("#}")
    ]
    assert open_comments == []


def test_type_sizes_and_weights_come_from_the_scale():
    # Relative sizes (.9em for code in running text) follow their parent, so they stay allowed.
    css = CSS.read_text()
    off_scale = [
        declaration
        for declaration in re.findall(r"font-(?:size|weight): ([^;}]+)", css)
        if not re.fullmatch(
            r"var\(--(text|weight)-[a-z0-9]+\)|[.\d]+em|100%|normal|inherit", declaration.strip()
        )
    ]
    assert off_scale == []

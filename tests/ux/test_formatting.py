"""What people read: figures that never wrap, one date format, durations and audit as words."""

from custory.templatetags.money import amounts, amounts_signed, money


def breakable(text: str) -> bool:
    return " " in text or "-€" in text or "+$" in text


def test_a_figure_never_wraps_in_the_middle():
    assert not breakable(money(1234, "chf"))
    assert not breakable(money(-250, "eur"))
    assert not breakable(amounts_signed({"usd": 1000}))
    # Figures of several currencies may wrap between them, never inside one.
    assert [breakable(part) for part in amounts({"chf": 1234, "jpy": 5000}).split(" · ")] == [
        False,
        False,
    ]

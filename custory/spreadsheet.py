"""Cells for every CSV the product writes, safe to open in a spreadsheet (OWASP CSV injection)."""

import re

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def csv_cell(value):
    """The value, with a leading ' when its text could start a formula (plain numbers stay)."""
    formula = isinstance(value, str) and value.startswith(FORMULA_STARTS)
    return "'" + value if formula and not _PLAIN_NUMBER.fullmatch(value) else value


def csv_row(values) -> list:
    return [csv_cell(value) for value in values]

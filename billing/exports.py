"""CSV export of a filtered signal list, streamed so 100k rows never sit in memory."""

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse

from custory.money import major_text
from custory.spreadsheet import csv_row

COLUMNS = [
    "occurred_at",
    "kind",
    "amount",
    "currency",
    "mrr_delta",
    "customer_email",
    "customer_name",
    "customer_stripe_id",
    "livemode",
    "object_id",
    "decline_code",
    "signal_id",
]
CHUNK_SIZE = 2000


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


def signal_rows(queryset) -> Iterator[list]:
    rows = queryset.values_list(
        "occurred_at",
        "kind",
        "amount",
        "currency",
        "mrr_delta",
        "customer__email",
        "customer__name",
        "customer__stripe_id",
        "livemode",
        "object_id",
        "details__decline_code",
        "uuid",
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        (occurred_at, kind, amount, currency, mrr, email, name, cus, live, obj, code, uuid) = row
        yield [
            occurred_at.isoformat(),
            kind,
            major_text(amount, currency),
            (currency or "").upper(),
            major_text(mrr, currency) if mrr else "",
            email or "",
            name or "",
            cus or "",
            "live" if live else "test",
            obj,
            code or "",
            str(uuid),
        ]


def signal_csv_response(queryset, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(COLUMNS)
        for row in signal_rows(queryset):
            yield writer.writerow(csv_row(row))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

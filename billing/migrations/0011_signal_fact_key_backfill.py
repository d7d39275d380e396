"""Give the signals stored before fact keys theirs, so a history import dedupes against them.

A fact held twice already (two signals of one key) keeps its first signal keyed; the others stay
without a key, as they were.
"""

from django.db import migrations

from billing.normalize.common import SignalFact
from billing.normalize.fact_keys import fact_key

CHUNK = 2000


def backfill(apps, schema_editor):
    RevenueSignal = apps.get_model("billing", "RevenueSignal")
    taken = set(RevenueSignal.objects.exclude(fact_key="").values_list("workspace_id", "fact_key"))
    pending = RevenueSignal.objects.filter(fact_key="")
    last_id = 0
    while True:
        rows = list(
            pending.filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "workspace_id", "kind", "object_id", "details", "event__stripe_id")[
                :CHUNK
            ]
        )
        if not rows:
            return
        changed = []
        for pk, workspace_id, kind, object_id, details, event_id in rows:
            fact = SignalFact(kind, object_id=object_id, details=details or {})
            key = fact_key(fact, event_id=event_id or str(pk))
            if (workspace_id, key) not in taken:
                taken.add((workspace_id, key))
                changed.append(RevenueSignal(id=pk, fact_key=key))
        RevenueSignal.objects.bulk_update(changed, ["fact_key"])
        last_id = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [("billing", "0010_history_import_from_objects")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]

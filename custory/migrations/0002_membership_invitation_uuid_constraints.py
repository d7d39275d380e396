import uuid

import django.db.models.functions.text
from django.db import migrations, models


def fill_uuids(apps, schema_editor):
    for model_name in ("Membership", "Invitation"):
        model = apps.get_model("custory", model_name)
        for row in model.objects.filter(uuid__isnull=True).only("pk"):
            model.objects.filter(pk=row.pk).update(uuid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("custory", "0001_initial"),
    ]

    operations = [
        # Public ids for the members page's URLs; added nullable, filled, then made unique.
        migrations.AddField(
            model_name="membership",
            name="uuid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="invitation",
            name="uuid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_uuids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="invitation",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddConstraint(
            model_name="invitation",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"),
                models.F("workspace"),
                condition=models.Q(accepted_at__isnull=True, canceled_at__isnull=True),
                name="custory_invitation_one_open_per_email",
            ),
        ),
        migrations.AddConstraint(
            model_name="invitation",
            constraint=models.CheckConstraint(
                condition=models.Q(role__in=["admin", "member", "support"]),
                name="custory_invitation_role_valid",
            ),
        ),
    ]

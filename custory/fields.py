"""Model fields the apps share."""

from django.db import models


def unindexed_fk(to, **options) -> models.ForeignKey:
    """A foreign key without an index of its own, for a column that a composite index in its
    model's Meta already leads with: that index serves the same lookups and cascades, and every
    index is written for every row inserted."""
    return models.ForeignKey(to, db_index=False, **options)

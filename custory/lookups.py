"""`__in` with many values, sent to PostgreSQL as one array parameter.

`pk__in=ids` with 800 ids is 800 placeholders: psycopg splits the query text with a regular
expression that is not cached for long queries, and PostgreSQL parses 800 parameters. The same
filter as `= ANY(%s::bigint[])` is one parameter, and PostgreSQL plans it the same way (it turns
an IN list into `= ANY` itself). Short lists, subqueries and other databases keep Django's `IN`.
"""

from django.db.models import Field, ForeignObject
from django.db.models.expressions import ColPairs
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In

from custory.bulk_sql import array_type

# Below this many values the IN list costs less than the array literal.
ARRAY_FROM = 50

# Column types whose values an array literal carries unchanged.
ARRAY_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "CharField",
        "TextField",
        "SlugField",
        "EmailField",
        "UUIDField",
    }
)


def _element_type(field) -> str | None:
    """The array's element type for `field`'s values (bulk_sql's: text for text columns, so a
    longer value is never cut to varchar(n)), or None where IN stays."""
    if field.is_relation:
        field = field.target_field
    if field.get_internal_type() not in ARRAY_TYPES:
        return None
    return array_type(field)


class _ArrayIn:
    def as_postgresql(self, compiler, connection):
        element_type = None
        if (
            self.rhs_is_direct_value()
            and len(self.rhs) >= ARRAY_FROM
            and not isinstance(self.lhs, ColPairs)
        ):
            element_type = _element_type(self.lhs.output_field)
        if element_type is None:
            return self.as_sql(compiler, connection)
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        if rhs_sql.count("%s") != len(rhs_params):  # expressions among the values
            return self.as_sql(compiler, connection)
        return f"{lhs_sql} = ANY(%s::{element_type}[])", (*lhs_params, list(rhs_params))


class ArrayIn(_ArrayIn, In):
    pass


class ArrayRelatedIn(_ArrayIn, RelatedIn):
    pass


def register() -> None:
    Field.register_lookup(ArrayIn)
    ForeignObject.register_lookup(ArrayRelatedIn)

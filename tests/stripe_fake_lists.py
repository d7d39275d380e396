"""Stripe's list endpoints for the fake server: objects by path, newest first, with `limit`,
`starting_after`, `created[gte|gt|lt|lte]`, `status` (subscriptions) and `expand[]=data.charge`.

Lists are kept sorted once per change, so paging a hundred thousand objects stays cheap.
"""

import bisect
import re
from dataclasses import dataclass, field

# Path → (resource named in 403s, Stripe's permission string for it).
LIST_PATHS = {
    "/v1/customers": ("customers", "rak_customer_read"),
    "/v1/products": ("products", "rak_product_read"),
    "/v1/prices": ("prices", "rak_price_read"),
    "/v1/subscriptions": ("subscriptions", "rak_subscription_read"),
    "/v1/invoices": ("invoices", "rak_invoice_read"),
    "/v1/charges": ("charges", "rak_charge_read"),
    "/v1/refunds": ("refunds", "rak_refund_read"),
    "/v1/disputes": ("disputes", "rak_dispute_read"),
    "/v1/checkout/sessions": ("checkout_sessions", "rak_checkout_session_read"),
}
# Stripe's list default hides canceled subscriptions; `status=all` shows every one.
HIDDEN_BY_DEFAULT = {"/v1/subscriptions": {"canceled", "incomplete_expired"}}


@dataclass
class ObjectLists:
    """The objects the fake lists, by path."""

    by_path: dict[str, list[dict]] = field(default_factory=dict)
    # id → object, so expanding a refund's charge does not scan every list.
    _by_id: dict[str, dict] = field(default_factory=dict)
    _sorted: dict[str, tuple[list[dict], list[tuple], dict[str, int]]] = field(default_factory=dict)

    def add(self, path: str, obj: dict) -> dict:
        self.by_path.setdefault(path, []).append(obj)
        if obj.get("id"):
            self._by_id.setdefault(obj["id"], obj)
        self._sorted.pop(path, None)
        return obj

    def find(self, obj_id: str) -> dict | None:
        return self._by_id.get(obj_id)

    def ordered(self, path: str):
        """(objects newest first, their sort keys, id → position), cached until a change."""
        if path not in self._sorted:
            objects = sorted(
                self.by_path.get(path, []), key=lambda o: (-int(o.get("created") or 0), o["id"])
            )
            keys = [(-int(o.get("created") or 0), o["id"]) for o in objects]
            self._sorted[path] = (objects, keys, {o["id"]: n for n, o in enumerate(objects)})
        return self._sorted[path]

    def page(self, path: str, params: list[tuple[str, str]]) -> tuple[int, dict]:
        values = dict(params)
        objects, keys, positions = self.ordered(path)
        start, end = _created_range(keys, values)
        after = values.get("starting_after")
        if after:
            if after not in positions:
                return 400, _missing(after)
            start = max(start, positions[after] + 1)
        limit = min(int(values.get("limit") or 10), 100)
        hidden = set() if values.get("status") == "all" else HIDDEN_BY_DEFAULT.get(path, set())
        wanted = values.get("status") if values.get("status") not in (None, "all") else None
        page, index = [], start
        while index < end and len(page) < limit:
            obj = objects[index]
            index += 1
            if obj.get("status") in hidden or (wanted and obj.get("status") != wanted):
                continue
            page.append(self._expanded(obj, params))
        more = any(
            objects[i].get("status") not in hidden
            and (not wanted or objects[i].get("status") == wanted)
            for i in range(index, end)
        )
        return 200, {"object": "list", "url": path, "has_more": more, "data": page}

    def _expanded(self, obj: dict, params: list[tuple[str, str]]) -> dict:
        expand = {v for k, v in params if re.fullmatch(r"expand\[\d*\]", k)}
        if "data.charge" in expand and isinstance(obj.get("charge"), str):
            charge = self.find(obj["charge"])
            if charge is not None:
                return {**obj, "charge": charge}
        return obj


def _created_range(keys: list[tuple], values: dict[str, str]) -> tuple[int, int]:
    """Positions [start, end) of the objects inside the `created` filter (keys: newest first)."""
    start, end = 0, len(keys)
    if "created[lt]" in values:
        start = bisect.bisect_left(keys, (-int(values["created[lt]"]) + 1, ""))
    if "created[lte]" in values:
        start = max(start, bisect.bisect_left(keys, (-int(values["created[lte]"]), "")))
    if "created[gte]" in values:
        end = bisect.bisect_left(keys, (-int(values["created[gte]"]) + 1, ""))
    if "created[gt]" in values:
        end = min(end, bisect.bisect_left(keys, (-int(values["created[gt]"]), "")))
    return start, end


def _missing(obj_id: str) -> dict:
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": f"No such object: '{obj_id}'",
            "param": "starting_after",
        }
    }

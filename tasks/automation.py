"""Task rules: opening, deduplicating and auto-closing follow-up tasks from new signals.

(Filled in by the follow-up tasks work; called by billing.apply after placement.)
"""

from billing.models import RevenueSignal


def task_rules_apply(*, signals: list[RevenueSignal]) -> None:
    """Run the workspace's task rules over newly created signals, once per signal."""

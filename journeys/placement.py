"""Placing revenue signals on journey steps by mapping rules, and keeping per-step rollups.

(Filled in by the journeys work; called by billing.apply inside the processing transaction.)
"""

from billing.models import RevenueSignal


def place_signals(*, signals: list[RevenueSignal]) -> None:
    """Place each signal on a step in every journey of its workspace; update the rollups."""

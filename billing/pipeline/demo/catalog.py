"""The demo generator's data tables: API versions, plans, and the names customers are made of."""

from dataclasses import dataclass

PRE_BASIL = "2024-06-20"
BASIL = "2025-03-31.basil"
DAY = 86400


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    amount: int  # per interval, minor units
    interval: str = "month"


PLANS = {
    "usd": [
        Plan("starter", "Starter", 1900),
        Plan("pro", "Pro", 4900),
        Plan("biz", "Business", 9900),
    ],
    "eur": [
        Plan("starter", "Starter", 1900),
        Plan("pro", "Pro", 4500),
        Plan("biz", "Business", 8900),
    ],
    "jpy": [
        Plan("starter", "Starter", 2000),
        Plan("pro", "Pro", 5000),
        Plan("biz", "Business", 10000),
    ],
}
ANNUAL = {"usd": Plan("pro_annual", "Pro (annual)", 49000, "year")}
FEEDBACK = ["too_expensive", "missing_features", "switched_service", "unused", "other"]
FIRST_NAMES = [
    "Ada",
    "Ben",
    "Cleo",
    "Dev",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lea",
    "Max",
    "Noor",
    "Oli",
    "Pia",
    "Raj",
    "Sol",
]
LAST_NAMES = [
    "Abe",
    "Berg",
    "Costa",
    "Diaz",
    "Endo",
    "Fox",
    "Gray",
    "Haas",
    "Ito",
    "Jain",
    "Kato",
    "Lund",
    "Mori",
    "Nash",
    "Ortiz",
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Wonka",
]

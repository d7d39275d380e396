"""Print a workspace's revenue figures for a period (the board's figures, as "How we count"
defines them); --json prints one object with money in minor units."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from billing.figures import figures_period, period_figures
from custory.models import Workspace
from custory.money import money_format


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--{name} must be a date as YYYY-MM-DD, not “{value}”.") from error


def _money(figure: dict, currency: str) -> str:
    text = money_format(figure["total"], currency.lower())
    parts = [money_format(v, c.lower()) for c, v in figure["by_currency"].items()]
    if parts and list(figure["by_currency"]) != [currency]:
        text += f" ({' + '.join(parts)})"
    return text


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _lines(f: dict) -> list[str]:
    c = f["currency"]
    m, r, fp = f["movements"], f["recovery"], f["failed_payments"]
    lines = [
        f"{f['from']} – {f['to']} (UTC), in {c}",
        f"MRR {_money(f['mrr'], c)} · ARR {_money(f['arr'], c)}",
        f"Paying customers {f['paying_customers']} · ARPA {_money(f['arpa'], c)}",
        "Movements: " + " · ".join(f"{k.replace('_', ' ')} {_money(v, c)}" for k, v in m.items()),
        f"Failed payments: {fp['invoices']} invoices ({fp['attempts']} attempts), "
        f"{_money(fp['amount'], c)}",
        f"Recovery: {r['invoices_recovered']} recovered ({_money(r['amount_recovered'], c)}), "
        f"{r['in_dunning']} in dunning, {r['lost']} lost · {_rate(r['rate_count'])} of invoices,"
        f" {_rate(r['rate_amount'])} of the amount",
        f"Refunds: {f['refunds']['count']}, {_money(f['refunds']['amount'], c)}",
        f"Disputes: {f['disputes']['opened']} opened ({_money(f['disputes']['amount'], c)}), "
        f"{f['disputes']['won']} won, {f['disputes']['lost']} lost",
        f"Revenue at risk now: {_money(f['revenue_at_risk'], c)}",
    ]
    return lines


class Command(BaseCommand):
    help = "Print a workspace's revenue figures for a period (UTC dates, both included)."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="The workspace's slug.")
        parser.add_argument(
            "--from", dest="start", help="First day, YYYY-MM-DD (default: 30 days before --to)."
        )
        parser.add_argument("--to", dest="end", help="Last day, YYYY-MM-DD (default: today).")
        parser.add_argument("--json", action="store_true", help="One JSON object.")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug “{options['workspace']}”.")
        end = _date(options["end"], "to") if options["end"] else None
        start = _date(options["start"], "from") if options["start"] else None
        try:
            period = figures_period(start, end)
        except ValueError as error:
            raise CommandError("--from must not be after --to.") from error
        figures = period_figures(workspace, period)
        if options["json"]:
            self.stdout.write(json.dumps(figures, indent=2))
        else:
            self.stdout.write("\n".join(_lines(figures)))

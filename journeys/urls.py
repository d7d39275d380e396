from django.urls import path

from journeys import (
    board_views,
    customer_views,
    editor_views,
    revenue_views,
    rule_views,
    signal_views,
)

app_name = "journeys"

# The journey board and step pages (dashboard).
board_urlpatterns = [
    path("", board_views.board, name="board"),
    path("steps/<uuid:uuid>/", board_views.step_detail, name="step_detail"),
    path("signals/", signal_views.signal_list, name="signal_list"),
    path("signals/export.csv", signal_views.signal_export, name="signal_export"),
    path("signals/<uuid:uuid>/", signal_views.signal_detail, name="signal_detail"),
    path("customers/", customer_views.customer_list, name="customer_list"),
    path("customers/<uuid:uuid>/", customer_views.customer_detail, name="customer_detail"),
    path("how-we-count/", board_views.how_we_count, name="how_we_count"),
    path("revenue/", revenue_views.revenue, name="revenue"),
    path("revenue/mrr.csv", revenue_views.revenue_csv, {"table": "mrr"}, name="revenue_mrr_csv"),
    path(
        "revenue/movements.csv",
        revenue_views.revenue_csv,
        {"table": "movements"},
        name="revenue_movements_csv",
    ),
    path("settings/revenue/", revenue_views.revenue_settings, name="revenue_settings"),
]

# Editing journeys, stages, steps and mapping rules.
J = "settings/journeys/"
editing_urlpatterns = [
    path(J, editor_views.journey_list, name="journey_list"),
    path(f"{J}new/", editor_views.journey_create, name="journey_create"),
    path(f"{J}<uuid:journey>/", editor_views.journey_detail, name="journey_detail"),
    path(f"{J}<uuid:journey>/edit/", editor_views.journey_update, name="journey_update"),
    path(
        f"{J}<uuid:journey>/default/",
        editor_views.journey_make_default,
        name="journey_make_default",
    ),
    path(f"{J}<uuid:journey>/delete/", editor_views.journey_delete, name="journey_delete"),
    path(f"{J}<uuid:journey>/stages/new/", editor_views.stage_create, name="stage_create"),
    path(f"{J}<uuid:journey>/unmapped/", rule_views.unmapped, name="unmapped"),
    path(f"{J}<uuid:journey>/remap/", rule_views.remap_status, name="remap_status"),
    path(f"{J}<uuid:journey>/rules/", rule_views.rule_list, name="rule_list"),
    path(f"{J}<uuid:journey>/rules/new/", rule_views.rule_create, name="rule_create"),
    path(f"{J}<uuid:journey>/rules/preview/", rule_views.rule_preview, name="rule_preview"),
    path(f"{J}stages/<uuid:uuid>/edit/", editor_views.stage_update, name="stage_update"),
    path(f"{J}stages/<uuid:uuid>/move/", editor_views.stage_move, name="stage_move"),
    path(f"{J}stages/<uuid:uuid>/place/", editor_views.stage_place, name="stage_place"),
    path(f"{J}stages/<uuid:uuid>/delete/", editor_views.stage_delete, name="stage_delete"),
    path(f"{J}stages/<uuid:uuid>/steps/new/", editor_views.step_create, name="step_create"),
    path(f"{J}steps/<uuid:uuid>/edit/", editor_views.step_update, name="step_update"),
    path(f"{J}steps/<uuid:uuid>/move/", editor_views.step_move, name="step_move"),
    path(f"{J}steps/<uuid:uuid>/place/", editor_views.step_place, name="step_place"),
    path(f"{J}steps/<uuid:uuid>/delete/", editor_views.step_delete, name="step_delete"),
    path(f"{J}rules/<uuid:uuid>/", rule_views.rule_edit, name="rule_edit"),
    path(f"{J}rules/<uuid:uuid>/toggle/", rule_views.rule_toggle, name="rule_toggle"),
    path(f"{J}rules/<uuid:uuid>/move/", rule_views.rule_move, name="rule_move"),
    path(f"{J}rules/<uuid:uuid>/delete/", rule_views.rule_delete, name="rule_delete"),
]

urlpatterns = board_urlpatterns + editing_urlpatterns

from django.urls import path

from journeys import board_views, views

app_name = "journeys"

# The journey board and step pages (dashboard).
board_urlpatterns = [
    path("", board_views.board, name="board"),
    path("steps/<uuid:uuid>/", board_views.step_detail, name="step_detail"),
]

# Editing journeys, stages, steps and mapping rules.
J = "settings/journeys/"
editing_urlpatterns = [
    path(J, views.journey_list, name="journey_list"),
    path(f"{J}new/", views.journey_create, name="journey_create"),
    path(f"{J}<uuid:journey>/", views.journey_detail, name="journey_detail"),
    path(f"{J}<uuid:journey>/edit/", views.journey_update, name="journey_update"),
    path(f"{J}<uuid:journey>/default/", views.journey_make_default, name="journey_make_default"),
    path(f"{J}<uuid:journey>/delete/", views.journey_delete, name="journey_delete"),
    path(f"{J}<uuid:journey>/stages/new/", views.stage_create, name="stage_create"),
    path(f"{J}<uuid:journey>/unmapped/", views.unmapped, name="unmapped"),
    path(f"{J}<uuid:journey>/remap/", views.remap_status, name="remap_status"),
    path(f"{J}<uuid:journey>/rules/", views.rule_list, name="rule_list"),
    path(f"{J}<uuid:journey>/rules/new/", views.rule_create, name="rule_create"),
    path(f"{J}<uuid:journey>/rules/preview/", views.rule_preview, name="rule_preview"),
    path(f"{J}stages/<uuid:uuid>/edit/", views.stage_update, name="stage_update"),
    path(f"{J}stages/<uuid:uuid>/move/", views.stage_move, name="stage_move"),
    path(f"{J}stages/<uuid:uuid>/delete/", views.stage_delete, name="stage_delete"),
    path(f"{J}stages/<uuid:uuid>/steps/new/", views.step_create, name="step_create"),
    path(f"{J}steps/<uuid:uuid>/edit/", views.step_update, name="step_update"),
    path(f"{J}steps/<uuid:uuid>/move/", views.step_move, name="step_move"),
    path(f"{J}steps/<uuid:uuid>/delete/", views.step_delete, name="step_delete"),
    path(f"{J}rules/<uuid:uuid>/", views.rule_edit, name="rule_edit"),
    path(f"{J}rules/<uuid:uuid>/toggle/", views.rule_toggle, name="rule_toggle"),
    path(f"{J}rules/<uuid:uuid>/move/", views.rule_move, name="rule_move"),
    path(f"{J}rules/<uuid:uuid>/delete/", views.rule_delete, name="rule_delete"),
]

urlpatterns = board_urlpatterns + editing_urlpatterns

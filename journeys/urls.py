from django.urls import path

from journeys import board_views, views

app_name = "journeys"

# The journey board and step pages (dashboard).
board_urlpatterns = [
    path("", board_views.board, name="board"),
    path("steps/<uuid:uuid>/", board_views.step_detail, name="step_detail"),
]

# Editing journeys, stages, steps and mapping rules.
editing_urlpatterns = [
    path("settings/journeys/", views.journey_list, name="journey_list"),
    path("settings/journeys/<uuid:journey>/unmapped/", views.unmapped, name="unmapped"),
]

urlpatterns = board_urlpatterns + editing_urlpatterns

from django.urls import path

from journeys import views

app_name = "journeys"

urlpatterns = [
    path("", views.board, name="board"),
    path("steps/<uuid:uuid>/", views.step_detail, name="step_detail"),
    path("settings/journeys/", views.journey_list, name="journey_list"),
]

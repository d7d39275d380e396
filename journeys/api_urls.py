"""/api/v1/workspaces/<slug>/: signals, customers, evidence, journeys, steps, metrics, mapping."""

from django.urls import path

from journeys.api import journeys, revenue, signals

urlpatterns = [
    path("signals/", signals.SignalList.as_view(), name="signal_list"),
    path("signals/<uuid:uuid>/", signals.SignalDetail.as_view(), name="signal_detail"),
    path("customers/", signals.CustomerList.as_view(), name="customer_list"),
    path("customers/<uuid:uuid>/", signals.CustomerDetail.as_view(), name="customer_detail"),
    path("evidence/", signals.EvidenceList.as_view(), name="evidence_list"),
    path("journeys/", journeys.JourneyList.as_view(), name="journey_list"),
    path("journeys/<uuid:uuid>/", journeys.JourneyDetail.as_view(), name="journey_detail"),
    path(
        "journeys/<uuid:journey>/rules/",
        journeys.MappingRuleList.as_view(),
        name="mapping_rule_list",
    ),
    path(
        "journeys/<uuid:journey>/rules/<uuid:uuid>/",
        journeys.MappingRuleDetail.as_view(),
        name="mapping_rule_detail",
    ),
    path(
        "journeys/<uuid:journey>/evidence-rules/",
        journeys.EvidenceRuleList.as_view(),
        name="evidence_rule_list",
    ),
    path(
        "journeys/<uuid:journey>/evidence-rules/<uuid:uuid>/",
        journeys.EvidenceRuleDetail.as_view(),
        name="evidence_rule_detail",
    ),
    path("steps/<uuid:uuid>/", journeys.StepDetail.as_view(), name="step_detail"),
    path("metrics/", journeys.Metrics.as_view(), name="metrics"),
    path("metrics/revenue/", revenue.RevenueFigures.as_view(), name="revenue_figures"),
]

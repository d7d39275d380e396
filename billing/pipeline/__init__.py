"""The Stripe pipeline: webhook, ingestion, processing jobs, history import and connections.

The one place that orchestrates billing facts → journey placement → task rules; nothing below it
(billing facts, journeys, tasks, the core) imports it.
"""

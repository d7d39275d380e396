"""The REST API of the journeys layer: signals, customers, journeys, metrics, evidence, mapping."""

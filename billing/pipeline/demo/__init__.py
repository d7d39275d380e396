"""Demo Stripe history: a deterministic generator of realistic events, and seeding them.

`demo_events(seed=..., customers=..., months=...)` returns event payloads shaped like Stripe's
(API versions before and after basil mixed), in `created` order. `demo_seed` stores them through
the ingestion path and processes them with the pipeline's own jobs, in this process.
"""

from billing.pipeline.demo.life import demo_events
from billing.pipeline.demo.seed import demo_connection, demo_seed

__all__ = ["demo_connection", "demo_events", "demo_seed"]

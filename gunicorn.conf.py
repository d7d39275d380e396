"""gunicorn's settings for Custory (read from the working directory; flags override them).

Tuned on a 2-core box shared with PostgreSQL: one process per core (Python is single-core per
process), each with a few threads so a request waiting on PostgreSQL's commit does not idle the
core, and keep-alive so Stripe's (and the load generator's) connections are reused. The
webhook's ack is a plain WSGI handler in front of Django (custory.fast_routes), so most of a
request's CPU is gunicorn's own and PostgreSQL's. WEB_WORKERS / WEB_THREADS override.
"""

import os

workers = int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 2)
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 16)
# Stripe reuses connections; so do load balancers. Longer than their idle timeouts is harmless.
keepalive = 75
backlog = 2048
# Only warnings: an access log line per webhook costs as much as a tenth of the ack itself.
loglevel = "warning"

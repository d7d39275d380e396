"""gunicorn's settings for Custory (read from the working directory; flags override them).

Tuned on a 2-core box shared with PostgreSQL: one process per core (Python is single-core per
process), each with a few threads so a request waiting on PostgreSQL's commit does not idle the
core, and keep-alive so Stripe's (and the load generator's) connections are reused. The
webhook's ack is a plain WSGI handler in front of Django (custory.fast_routes), so most of a
request's CPU is gunicorn's own and PostgreSQL's; the threads of a process that wait on
PostgreSQL together share one commit (billing.pipeline.group_commit). WEB_WORKERS /
WEB_THREADS override.
"""

import os

workers = int(os.environ.get("WEB_WORKERS") or os.cpu_count() or 2)
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 16)
# Stripe reuses connections; so do load balancers. Longer than their idle timeouts is harmless.
keepalive = 75
# A listening socket per worker (SO_REUSEPORT): the kernel spreads new connections over the
# workers. With one shared socket, whichever worker woke first took most of a burst of
# keep-alive connections (measured: 6,115 of 6,930 requests on one worker, the other idle).
reuse_port = True
backlog = 2048
# Only warnings: an access log line per webhook costs as much as a tenth of the ack itself.
loglevel = "warning"

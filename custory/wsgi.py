"""
WSGI config for custory project.

It exposes the WSGI callable as a module-level variable named ``application``: Django's handler,
behind the fast routes of CUSTORY_WSGI_FAST_ROUTES (custory.fast_routes).

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custory.settings")

django_application = get_wsgi_application()

from custory.fast_routes import with_fast_routes  # noqa: E402 (needs Django set up)

application = with_fast_routes(django_application)

from django.http import HttpResponse

from custory.access import workspace_view
from custory.models import Role


@workspace_view(role=Role.ADMIN)
def webhook_list(request):
    return HttpResponse()


@workspace_view(role=Role.ADMIN)
def webhook_detail(request, uuid):
    return HttpResponse()

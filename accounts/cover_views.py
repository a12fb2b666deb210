"""Out-of-office cover pages (built in accounts.cover)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def cover_page(request):
    return HttpResponse(status=501)

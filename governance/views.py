from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from audit import selectors as audit_selectors
from governance import console, permissions


@login_required
def console_home(request):
    permissions.require_console(request.user)
    return render(
        request,
        "governance/console.html",
        {
            "sections": console.SECTIONS,
            # Whether the record can be trusted comes first: the ledger's last verification.
            "ledger": audit_selectors.ledger_status_for(request.user),
        },
    )

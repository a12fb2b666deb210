from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from audit import selectors as audit_selectors
from config.errors import ServiceError
from governance import console, forms, holds, permissions, retention


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


def _errors_into(form, error: ServiceError) -> None:
    for name, messages in error.fields.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
    if not error.fields:
        form.add_error(None, error.detail)


@login_required
@require_http_methods(["GET", "POST"])
def hold_list(request):
    """Every hold (active first) and the form to place one; 400 with the form's errors."""
    hold_rows = holds.hold_list_for(request.user)
    form = forms.HoldPlaceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                hold = holds.legal_hold_place(
                    actor=request.user,
                    scope=data["scope"],
                    target_id=data["target"],
                    since=data["since"],
                    until=data["until"],
                    matter=data["matter"],
                    reason=data["reason"],
                    request=request,
                )
            except ServiceError as error:
                _errors_into(form, error)
            else:
                return redirect("governance:hold-detail", hold.pk)
        status = 400
    return render(
        request,
        "governance/hold_list.html",
        {"holds": hold_rows, "form": form, "scopes": holds.Scope},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def hold_detail(request, pk):
    """One hold; releasing it (with a reason) on POST."""
    hold = holds.hold_get_for(request.user, pk)
    form = forms.HoldReleaseForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                holds.legal_hold_release(
                    actor=request.user,
                    hold=hold,
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
            except ServiceError as error:
                _errors_into(form, error)
            else:
                return redirect("governance:hold-detail", hold.pk)
        status = 400
    return render(
        request, "governance/hold_detail.html", {"hold": hold, "form": form}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def retention_page(request):
    """The periods per record class with what a purge would do now (a dry run); admins change
    a period on POST (compliance officers see the page, a POST from them is 404)."""
    permissions.require_console(request.user)
    form = None
    status = 200
    if request.method == "POST":
        permissions.require_set_retention(request.user)
        form = forms.RetentionPeriodForm(request.POST)
        if form.is_valid():
            try:
                retention.retention_policy_set(
                    actor=request.user,
                    record_class=form.cleaned_data["record_class"],
                    period_days=form.cleaned_data["period_days"],
                    request=request,
                )
            except ServiceError as error:
                _errors_into(form, error)
            else:
                return redirect("governance:retention")
        status = 400
    report = retention.retention_report()
    rows = report.by_class()
    policies = [
        {**policy, "report": rows[policy["record_class"]]} for policy in retention.policy_rows()
    ]
    return render(
        request,
        "governance/retention.html",
        {
            "policies": policies,
            "report": report,
            "form": form,
            "can_edit": permissions.can_set_retention(request.user),
        },
        status=status,
    )

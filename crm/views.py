"""CRM pages. Each view parses input, calls one selector or service, and renders.

Reads come from crm.selectors (lists filtered by crm.filters, the API's FilterSets); writes go
through crm.services. A service's refusal (config.errors) is shown on the form it came from;
anywhere else config.errors.ServiceErrorMiddleware turns it into the error page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.pickers import picker_context
from config.errors import Invalid, ServiceError
from crm import csv_io, filters, forms, permissions, rate_limits, selectors, services, timeline
from crm.models import Channel, Company, Contact, Deal

PAGE_SIZE = 25


def _apply_form_errors(form, exc: ServiceError) -> None:
    """A service's refusal on the form it came from: each field's messages on that field (the
    form's own errors for a field it does not have), else the message above the form."""
    if not exc.fields:
        form.add_error(None, exc.messages)
    for name, errors in exc.fields.items():
        form.add_error(name if name in form.fields else None, errors)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _list_context(request, filterset, *, extra=None) -> dict:
    """A list page: the kind's FilterSet over what the user may see, one page of it."""
    qs, sort = filterset.page_queryset()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    values = filterset.values()
    return {
        "page": page,
        "sort": sort,
        "sorts": list(filterset.filters["sort"].sorts),
        "query": params.urlencode(),
        # An empty list says what to do: clear the filters, or create the first record.
        "filtered": any(value for key, value in params.items() if key != "sort"),
        "owner_picker": _owner_picker(request, values["owner"]),
        "tags": selectors.tag_list(),
        "filters": {**values, "q": values["q"] or "", "tag": values["tag"] or ""},
        **(extra or {}),
    }


def _owner_picker(request, owner) -> dict:
    """The lists' and board's owner filter: a search-as-you-type picker that submits the form."""
    return picker_context(
        request.user,
        "owner",
        owner,
        name="owner",
        id="filter-owner",
        submit=True,
        id_only=True,
        aria_label=_("Owner"),
        placeholder=_("Any owner"),
    )


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- lists and record pages -------------------------------------------------------------------


@login_required
def company_list(request):
    filterset = filters.CompanyFilter(
        request.GET, queryset=selectors.company_list_for(request.user)
    )
    context = _list_context(request, filterset)
    context["can_create"] = permissions.can_create(request.user, Company)
    return render(request, "crm/company_list.html", context)


@login_required
def company_detail(request, company_id: int):
    company = selectors.company_get_for(request.user, company_id)
    return render(
        request,
        "crm/company_detail.html",
        {
            "company": company,
            **selectors.company_related_for(request.user, company, visible=True),
            **_record_panels(request, company, "companies"),
        },
    )


@login_required
def contact_list(request):
    filterset = filters.ContactFilter(
        request.GET, queryset=selectors.contact_list_for(request.user)
    )
    context = _list_context(request, filterset)
    context["can_create"] = permissions.can_create(request.user, Contact)
    return render(request, "crm/contact_list.html", context)


@login_required
def contact_detail(request, contact_id: int):
    contact = selectors.contact_get_for(request.user, contact_id)
    return render(
        request,
        "crm/contact_detail.html",
        {
            "contact": contact,
            "channels": Channel.choices,
            **selectors.contact_related_for(request.user, contact, visible=True),
            **_record_panels(request, contact, "contacts"),
        },
    )


@login_required
def deal_list(request):
    filterset = filters.DealFilter(request.GET, queryset=selectors.deal_list_for(request.user))
    context = _list_context(
        request,
        filterset,
        extra={"stages": selectors.stage_list(), "statuses": forms.DEAL_STATUS_CHOICES},
    )
    context["filters"]["status"] = context["filters"]["status"] or ""
    context["can_create"] = permissions.can_create(request.user, Deal)
    return render(request, "crm/deal_list.html", context)


@login_required
def deal_board(request):
    owner = _int(request.GET.get("owner"))
    owner = owner if owner is not None and 0 < owner < 2**63 else None
    board = selectors.deal_board_for(
        request.user, pipeline_id=_int(request.GET.get("pipeline")), owner_id=owner
    )
    return render(
        request,
        "crm/deal_board.html",
        {**board, "owner_picker": _owner_picker(request, owner), "owner": owner},
    )


@login_required
def deal_detail(request, deal_id: int):
    deal = selectors.deal_page_for(request.user, deal_id)
    activities = selectors.deal_activities_for(request.user, deal, visible=True)
    panels = _record_panels(request, deal, "deals")
    return render(
        request,
        "crm/deal_detail.html",
        {
            "deal": deal,
            "timeline": timeline.deal_timeline(
                deal, activities, viewer=request.user, can_share=panels["can_share"]
            ),
            "activity_form": forms.ActivityForm(),
            "stages": selectors.pipeline_stages(deal.pipeline_id),
            **panels,
        },
    )


# --- one form view for companies, contacts and deals ------------------------------------------


def _company_initial(request, company) -> dict:
    if company is None:
        return {}
    return {
        "name": company.name,
        "domain": company.domain,
        "industry": company.industry,
        "phone": company.phone,
        "address": company.address,
        "owner": company.owner_id,
        "tags": [t.name for t in company.tags.all()],
    }


def _contact_initial(request, contact) -> dict:
    if contact is None:
        return {"preferred_channel": "email", "lifecycle_stage": "lead"}
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "title": contact.title,
        "company": contact.company_id,
        "emails": "\n".join(e.email for e in contact.emails.all()),
        "phones": "\n".join(p.number for p in contact.phones.all()),
        "preferred_channel": contact.preferred_channel,
        "lifecycle_stage": contact.lifecycle_stage,
        "owner": contact.owner_id,
        "tags": [t.name for t in contact.tags.all()],
    }


def _deal_initial(request, deal) -> dict:
    if deal is not None:
        return {
            "title": deal.title,
            "company": deal.company_id,
            "primary_contact": deal.primary_contact_id,
            "contacts": [c.pk for c in deal.contacts.all()],
            "stage": deal.stage_id,
            "amount": deal.amount,
            "currency": deal.currency,
            "expected_close_date": deal.expected_close_date,
            "owner": deal.owner_id,
            "lost_reason": deal.lost_reason,
            "tags": [t.name for t in deal.tags.all()],
        }
    pipelines = list(selectors.pipeline_list())
    chosen = _int(request.GET.get("pipeline"))
    pipeline = next((p for p in pipelines if p.pk == chosen), None) or selectors.pipeline_default()
    initial = {"pipeline": pipeline.pk, "stage": pipeline.stages.all()[0].pk, "currency": "USD"}
    if request.GET.get("company"):
        initial["company"] = _int(request.GET["company"])
    return initial


def _cascade(data: dict) -> set[str]:
    return {
        name
        for name, field in (("contacts", "move_contacts"), ("deals", "move_deals"))
        if data.pop(field, False)
    }


def _company_save(request, company, data: dict):
    cascade = _cascade(data)
    data.pop("confirm_reassign", None)
    if company is None:
        return services.company_create(actor=request.user, request=request, **data)
    return services.company_update(
        actor=request.user, company=company, request=request, cascade=cascade, **data
    )


def _contact_save(request, contact, data: dict):
    data.pop("confirm_reassign", None)
    confirm = data.pop("confirm_duplicate")
    data["phone_region"] = data["phone_region"] or None
    if contact is None:
        return services.contact_create(
            actor=request.user, request=request, allow_duplicate=confirm, **data
        )
    return services.contact_update(actor=request.user, contact=contact, request=request, **data)


def _deal_save(request, deal, data: dict):
    data.pop("confirm_reassign", None)
    if deal is None:
        data.pop("lost_reason")
        return services.deal_create(actor=request.user, request=request, **data)
    data.pop("pipeline")  # a deal stays in its pipeline (the form shows it, disabled)
    return services.deal_update(actor=request.user, deal=deal, request=request, **data)


@dataclass(frozen=True)
class RecordForm:
    """What the form view needs to know of one kind of record."""

    model: type
    form: type
    get: Callable
    initial: Callable
    save: Callable
    noun: str
    saved: str
    form_kwargs: Callable = field(default=lambda record: {})


RECORD_FORMS = {
    "companies": RecordForm(
        model=Company,
        form=forms.CompanyForm,
        get=selectors.company_get_for,
        initial=_company_initial,
        save=_company_save,
        noun=gettext_lazy("company"),
        saved=gettext_lazy("Company saved."),
    ),
    "contacts": RecordForm(
        model=Contact,
        form=forms.ContactForm,
        get=selectors.contact_get_for,
        initial=_contact_initial,
        save=_contact_save,
        noun=gettext_lazy("contact"),
        saved=gettext_lazy("Contact saved."),
    ),
    "deals": RecordForm(
        model=Deal,
        form=forms.DealForm,
        get=selectors.deal_get_for,
        initial=_deal_initial,
        save=_deal_save,
        noun=gettext_lazy("deal"),
        saved=gettext_lazy("Deal saved."),
        form_kwargs=lambda deal: {"pipeline": deal.pipeline if deal is not None else None},
    ),
}


def _record_for(user, kind: str, record_id: int):
    """The company, contact or deal `user` may see (an unknown kind is a 404, like a hidden one)."""
    if kind not in RECORD_FORMS:
        raise Http404
    return RECORD_FORMS[kind].get(user, record_id)


@login_required
def record_form(request, kind: str, record_id: int | None = None):
    """Create (no record_id) or edit a company, contact or deal. A refusal of the service is
    shown on the form; a duplicate contact lists the duplicates the user may open."""
    spec = RECORD_FORMS[kind]
    record = None
    if record_id is not None:
        record = spec.get(request.user, record_id)
        permissions.require_change(request.user, record)
    else:
        permissions.require_create(request.user, spec.model)
    form_kwargs = {"user": request.user, **spec.form_kwargs(record)}
    duplicates = {}
    reassign = {}
    if request.method == "POST":
        form = spec.form(request.POST, **form_kwargs)
        if form.is_valid() and (preview := _reassign_preview(request, record, form)):
            reassign = {"reassign_preview": preview}
        elif form.is_valid():
            try:
                saved = spec.save(request, record, dict(form.cleaned_data))
            except services.DuplicateContact as exc:
                duplicates = {
                    "duplicates": selectors.contacts_by_ids_for(request.user, exc.existing_ids),
                    "duplicates_refused": exc.refused,
                }
                if exc.refused:
                    form.add_error(None, exc.detail)
            except ServiceError as exc:
                _apply_form_errors(form, exc)
            else:
                messages.success(request, spec.saved)
                return redirect(saved)
    else:
        form = spec.form(initial=spec.initial(request, record), **form_kwargs)
    if record is None:
        for name in ("move_contacts", "move_deals", "confirm_reassign"):
            form.fields.pop(name, None)
    return render(
        request,
        "crm/form.html",
        {"form": form, "object": record, "noun": spec.noun, **duplicates, **reassign},
    )


def _reassign_preview(request, record, form) -> list[tuple[str, int]] | None:
    """A new owner not yet confirmed: what will move with the record (nothing is saved)."""
    owner = form.cleaned_data.get("owner")
    if record is None or owner is None or owner.pk == record.owner_id:
        return None
    if form.cleaned_data.get("confirm_reassign"):
        return None
    try:
        counts = services.record_reassign_preview(
            actor=request.user,
            record=record,
            owner=owner,
            cascade=_cascade(dict(form.cleaned_data)) if isinstance(record, Company) else None,
        )
    except ServiceError as exc:
        _apply_form_errors(form, exc)
        return None
    labels = {
        "contacts": _("Contacts"),
        "deals_open": _("Open deals"),
        "conversations_open": _("Open conversations"),
    }
    return [(labels[k], counts.get(k, 0)) for k in labels]


@login_required
@require_POST
def contact_consent(request, contact_id: int):
    contact = selectors.contact_get_for(request.user, contact_id)
    try:
        services.contact_set_consent(
            actor=request.user,
            contact=contact,
            channel=request.POST.get("channel", ""),
            granted=request.POST.get("granted") == "1",
            source=request.POST.get("source", "")
            or _("Entered by %(user)s") % {"user": request.user},
            request=request,
        )
    except Invalid as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Consent recorded."))
    return redirect(contact)


# --- the board's move ---------------------------------------------------------------------------


@login_required
@require_POST
def deal_move(request, deal_id: int):
    deal = selectors.deal_get_for(request.user, deal_id)
    form = forms.DealMoveForm(request.POST)
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    if not form.is_valid():
        if wants_json:
            return JsonResponse({"errors": form.errors}, status=400)
        messages.error(request, _("Choose a stage."))
        return redirect(_next_url(request, deal.get_absolute_url()))
    try:
        services.deal_move(
            actor=request.user, deal=deal, stage=form.cleaned_data["stage"], request=request
        )
    except Invalid as exc:
        if wants_json:
            return JsonResponse({"errors": exc.messages}, status=400)
        messages.error(request, " ".join(exc.messages))
    else:
        if wants_json:
            return JsonResponse({"id": deal.pk, "stage": deal.stage_id, "status": deal.status})
        messages.success(
            request, _("%(deal)s moved to %(stage)s.") % {"deal": deal, "stage": deal.stage}
        )
    return redirect(_next_url(request, deal.get_absolute_url()))


# --- activities -------------------------------------------------------------------------------


@login_required
@require_POST
def activity_create(request, kind: str, record_id: int):
    record = _record_for(request.user, kind, record_id)
    form = forms.ActivityForm(request.POST)
    if form.is_valid():
        target = {
            "companies": "company",
            "contacts": "contact",
            "deals": "deal",
        }[kind]
        try:
            services.activity_create(
                actor=request.user, request=request, **{target: record}, **form.cleaned_data
            )
        except Invalid as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Activity added."))
    else:
        messages.error(request, _("Give the activity a subject."))
    return redirect(record)


@login_required
@require_POST
def activity_done(request, activity_id: int):
    activity = selectors.activity_get_for(request.user, activity_id)
    services.activity_update(
        actor=request.user, activity=activity, done=not activity.done, request=request
    )
    subject = activity.deal or activity.contact or activity.company
    return redirect(_next_url(request, subject.get_absolute_url()))


# --- sharing, archiving -----------------------------------------------------------------------


def _record_panels(request, record, kind: str) -> dict:
    """What a record's page may offer the viewer. The record was read through the viewer's
    visibility filter in this request, so it is visible to them (`visible_record`, read by
    comms' record_conversations) and each check runs once."""
    shares = selectors.record_shares_for(request.user, record)
    can_share = shares is not None
    can_change = permissions.can_change(request.user, record)
    return {
        "kind": kind,
        "visible_record": record,
        "can_change": can_change,
        "can_edit": can_change,
        "can_share": can_share,
        "can_archive": permissions.can_archive(request.user, record) and not record.is_archived,
        "can_restore": permissions.can_archive(request.user, record) and record.is_archived,
        "shares": shares or [],
        "share_form": forms.ShareForm(user=request.user, record=record) if can_share else None,
        "can_add_activity": permissions.can_add_activity(request.user, record, visible=True),
        "activity_form": forms.ActivityForm(),
    }


@login_required
@require_POST
def record_share(request, kind: str, record_id: int):
    record = _record_for(request.user, kind, record_id)
    # Who may not share it is refused as before, not told to pick someone else.
    permissions.require_share(request.user, record)
    form = forms.ShareForm(request.POST, user=request.user, record=record)
    if not form.is_valid():
        messages.error(request, _("Choose a person or a team, and an access level."))
        return redirect(record)
    services.record_share(
        actor=request.user,
        record=record,
        level=form.cleaned_data["level"],
        request=request,
        **form.target(),
    )
    messages.success(request, _("Shared."))
    return redirect(record)


@login_required
@require_POST
def record_unshare(request, kind: str, record_id: int):
    record = _record_for(request.user, kind, record_id)
    form = forms.UnshareForm(request.POST)
    target = form.target() if form.is_valid() else {}
    if not target or None in target.values():
        raise Http404
    services.record_unshare(actor=request.user, record=record, request=request, **target)
    messages.success(request, _("No longer shared."))
    return redirect(record)


@login_required
@require_POST
def record_archive(request, kind: str, record_id: int):
    record = _record_for(request.user, kind, record_id)
    services.record_archive(actor=request.user, record=record, request=request)
    messages.success(request, _("Archived."))
    return redirect(reverse(f"crm:{kind[:-1] if kind != 'companies' else 'company'}-list"))


@login_required
@require_POST
def record_restore(request, kind: str, record_id: int):
    record = _record_for(request.user, kind, record_id)
    services.record_restore(actor=request.user, record=record, request=request)
    messages.success(request, _("Restored: it is back in everyone's lists."))
    return redirect(record)


# --- search -----------------------------------------------------------------------------------


@login_required
@require_GET
def search(request):
    term = request.GET.get("q", "")
    return render(
        request,
        "crm/search.html",
        {"term": term, "results": selectors.search_for(request.user, term)},
    )


# --- CSV --------------------------------------------------------------------------------------


@login_required
def csv_import(request, kind: str):
    if kind not in csv_io.COLUMNS:
        raise Http404
    permissions.require_create(request.user, csv_io.MODELS[kind])
    result = None
    retry_after = None
    if request.method == "POST":
        form = forms.ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = csv_io.import_csv(
                    actor=request.user,
                    kind=kind,
                    upload=form.cleaned_data["file"],
                    dry_run=form.cleaned_data["dry_run"],
                    request=request,
                )
            except rate_limits.RateLimited as exc:
                retry_after = exc.retry_after
                minutes = max(1, -(-retry_after // 60))
                form.add_error(
                    "file",
                    ngettext(
                        "You have checked or imported too many files this hour. "
                        "Try again in %(minutes)s minute.",
                        "You have checked or imported too many files this hour. "
                        "Try again in %(minutes)s minutes.",
                        minutes,
                    )
                    % {"minutes": minutes},
                )
            else:
                if result.ok and not result.dry_run:
                    messages.success(request, _("%(n)s records imported.") % {"n": result.created})
                    return redirect(f"crm:{'company' if kind == 'companies' else 'contact'}-list")
    else:
        form = forms.ImportForm()
    response = render(
        request,
        "crm/import.html",
        {"form": form, "kind": kind, "result": result, "columns": csv_io.COLUMNS[kind]},
        status=200 if retry_after is None else 429,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_GET
def csv_export(request, kind: str):
    """The list's rows (same parameters, same FilterSet) as CSV, in the list's order."""
    if kind == "companies":
        filterset = filters.CompanyFilter(
            request.GET, queryset=selectors.company_list_for(request.user)
        )
    elif kind == "contacts":
        filterset = filters.ContactFilter(
            request.GET, queryset=selectors.contact_list_for(request.user)
        )
    else:
        raise Http404
    qs, _sort = filterset.page_queryset()
    response = StreamingHttpResponse(
        csv_io.export_rows(kind, qs), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="keepline-{kind}.csv"'
    return response

"""CRM pages. Each view parses input, calls one selector or service, and renders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Sum, Window
from django.db.models.functions import RowNumber
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from crm import csv_io, forms, permissions, rate_limits, selectors, services, timeline
from crm.models import Channel, Company, Contact, Deal

PAGE_SIZE = 25
BOARD_LIMIT = 50

KINDS = {
    "companies": (Company, selectors.company_get_for),
    "contacts": (Contact, selectors.contact_get_for),
    "deals": (Deal, selectors.deal_get_for),
}


def _record_for(user, kind: str, record_id: int):
    """The company, contact or deal `user` may see (an unknown kind is a 404, like a hidden one)."""
    if kind not in KINDS:
        raise Http404
    _model, get = KINDS[kind]
    return get(user, record_id)


def _apply_form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _filter_common(request, qs, *, search):
    """?q=, ?owner=, ?tag= (shared by the three lists and the CSV export)."""
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(search(q))
    owner = _int(request.GET.get("owner"))
    if owner:
        qs = qs.filter(owner_id=owner)
    tag = request.GET.get("tag", "").strip()
    if tag:
        qs = qs.filter(tags__name=tag)
    return qs


def _sorted(request, qs, sorts: dict, default: str):
    key = request.GET.get("sort", default)
    if key not in sorts:
        key = default
    return qs.order_by(*sorts[key]), key


def _list_context(request, qs, *, sorts, default_sort, extra=None):
    qs, sort = _sorted(request, qs, sorts, default_sort)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "page": page,
        "sort": sort,
        "sorts": list(sorts),
        "query": params.urlencode(),
        "owners": forms.active_users(),
        "tags": selectors.tag_list(),
        "filters": {
            "q": request.GET.get("q", ""),
            "owner": _int(request.GET.get("owner")),
            "tag": request.GET.get("tag", ""),
        },
        **(extra or {}),
    }


COMPANY_SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "updated": ("-updated_at", "-id"),
    "created": ("-created_at", "-id"),
}
CONTACT_SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "updated": ("-updated_at", "-id"),
    "created": ("-created_at", "-id"),
}
DEAL_SORTS = {
    "updated": ("-updated_at", "-id"),
    "title": ("title", "id"),
    "amount": ("-amount", "-id"),
    "close": (F("expected_close_date").asc(nulls_last=True), "id"),
    "created": ("-created_at", "-id"),
}


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- companies --------------------------------------------------------------------------------


@login_required
def company_list(request):
    qs = _filter_common(
        request, selectors.company_list_for(request.user), search=selectors.company_search_q
    )
    context = _list_context(request, qs, sorts=COMPANY_SORTS, default_sort="name")
    context["can_create"] = permissions.can_create(request.user, Company)
    return render(request, "crm/company_list.html", context)


@login_required
def company_detail(request, company_id: int):
    company = selectors.company_get_for(request.user, company_id)
    contacts = selectors.contact_list_for(request.user).filter(company=company)[:50]
    deals = selectors.deal_list_for(request.user).filter(company=company)[:50]
    activities = selectors.activity_list_for(request.user).filter(company=company)[:50]
    return render(
        request,
        "crm/company_detail.html",
        {
            "company": company,
            "contacts": contacts,
            "deals": deals,
            "activities": activities,
            **_record_panels(request, company, "companies"),
        },
    )


@login_required
def company_form(request, company_id: int | None = None):
    company = None
    if company_id is not None:
        company = selectors.company_get_for(request.user, company_id)
        permissions.require_change(request.user, company)
    elif not permissions.can_create(request.user, Company):
        raise PermissionDenied
    if request.method == "POST":
        form = forms.CompanyForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if company is None:
                    company = services.company_create(actor=request.user, request=request, **data)
                else:
                    services.company_update(
                        actor=request.user, company=company, request=request, **data
                    )
            except ValidationError as exc:
                _apply_form_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error("owner", str(exc) or _("You cannot choose this owner."))
            else:
                messages.success(request, _("Company saved."))
                return redirect(company)
    else:
        initial = {}
        if company is not None:
            initial = {
                "name": company.name,
                "domain": company.domain,
                "industry": company.industry,
                "phone": company.phone,
                "address": company.address,
                "owner": company.owner_id,
                "tags": [t.name for t in company.tags.all()],
            }
        form = forms.CompanyForm(initial=initial, user=request.user)
    return render(request, "crm/form.html", _form_context(form, company, _("company")))


def _form_context(form, obj, noun, **extra):
    return {"form": form, "object": obj, "noun": noun, **extra}


# --- contacts ---------------------------------------------------------------------------------


@login_required
def contact_list(request):
    qs = _filter_common(
        request, selectors.contact_list_for(request.user), search=selectors.contact_search_q
    )
    context = _list_context(request, qs, sorts=CONTACT_SORTS, default_sort="name")
    context["can_create"] = permissions.can_create(request.user, Contact)
    return render(request, "crm/contact_list.html", context)


@login_required
def contact_detail(request, contact_id: int):
    contact = selectors.contact_get_for(request.user, contact_id)
    deals = selectors.deal_list_for(request.user).filter(contacts=contact)[:50]
    activities = selectors.activity_list_for(request.user).filter(contact=contact)[:50]
    return render(
        request,
        "crm/contact_detail.html",
        {
            "contact": contact,
            "channels": Channel.choices,
            "deals": deals,
            "activities": activities,
            **_record_panels(request, contact, "contacts"),
        },
    )


def _duplicates_for_display(user, ids: list[int]) -> list:
    """The duplicates to link (the service names only contacts the user may open)."""
    return list(selectors.contact_list_for(user).filter(pk__in=ids).order_by("pk"))


@login_required
def contact_form(request, contact_id: int | None = None):
    contact = None
    if contact_id is not None:
        contact = selectors.contact_get_for(request.user, contact_id)
        permissions.require_change(request.user, contact)
    elif not permissions.can_create(request.user, Contact):
        raise PermissionDenied
    duplicates, duplicates_refused = [], False
    if request.method == "POST":
        form = forms.ContactForm(request.POST, user=request.user)
        if form.is_valid():
            data = dict(form.cleaned_data)
            confirm = data.pop("confirm_duplicate")
            data["phone_region"] = data["phone_region"] or None
            try:
                if contact is None:
                    contact = services.contact_create(
                        actor=request.user, request=request, allow_duplicate=confirm, **data
                    )
                else:
                    services.contact_update(
                        actor=request.user, contact=contact, request=request, **data
                    )
            except services.DuplicateContact as exc:
                duplicates = _duplicates_for_display(request.user, exc.existing_ids)
                duplicates_refused = exc.refused
                if exc.refused:
                    form.add_error(None, exc.message)
            except ValidationError as exc:
                _apply_form_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error("owner", str(exc) or _("You cannot choose this owner."))
            else:
                messages.success(request, _("Contact saved."))
                return redirect(contact)
    else:
        initial = {"preferred_channel": "email", "lifecycle_stage": "lead"}
        if contact is not None:
            initial = {
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
        form = forms.ContactForm(initial=initial, user=request.user)
    return render(
        request,
        "crm/form.html",
        _form_context(
            form,
            contact,
            _("contact"),
            duplicates=duplicates,
            duplicates_refused=duplicates_refused,
        ),
    )


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
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Consent recorded."))
    return redirect(contact)


# --- deals ------------------------------------------------------------------------------------


@login_required
def deal_list(request):
    qs = _filter_common(
        request, selectors.deal_list_for(request.user), search=selectors.deal_search_q
    )
    stage = _int(request.GET.get("stage"))
    if stage:
        qs = qs.filter(stage_id=stage)
    status = request.GET.get("status", "")
    if status in Deal.Status.values:
        qs = qs.filter(status=status)
    context = _list_context(
        request,
        qs,
        sorts=DEAL_SORTS,
        default_sort="updated",
        extra={
            "stages": selectors.stage_list(),
            "statuses": forms.DEAL_STATUS_CHOICES,
        },
    )
    context["filters"].update({"stage": stage, "status": status})
    context["can_create"] = permissions.can_create(request.user, Deal)
    return render(request, "crm/deal_list.html", context)


@login_required
def deal_board(request):
    pipelines = list(selectors.pipeline_list())
    if not pipelines:
        raise Http404
    chosen = _int(request.GET.get("pipeline"))
    pipeline = next((p for p in pipelines if p.pk == chosen), pipelines[0])
    stages = list(pipeline.stages.all())
    base = selectors.deal_list_for(request.user).filter(pipeline=pipeline)
    owner = _int(request.GET.get("owner"))
    if owner:
        base = base.filter(owner_id=owner)
    # The newest BOARD_LIMIT deals of each stage, in one query at any size.
    deals = base.annotate(
        board_rank=Window(
            RowNumber(),
            partition_by=[F("stage_id")],
            order_by=[F("updated_at").desc(), F("id").desc()],
        )
    ).filter(board_rank__lte=BOARD_LIMIT)
    # Deal count and amounts per stage, summed per currency (one query).
    totals: dict[int, dict] = {}
    for row in (
        base.order_by()
        .values("stage_id", "currency")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by("stage_id", "currency")
    ):
        entry = totals.setdefault(row["stage_id"], {"n": 0, "amounts": []})
        entry["n"] += row["n"]
        entry["amounts"].append((row["total"], row["currency"]))
    columns = {stage.pk: [] for stage in stages}
    for deal in deals:
        columns.setdefault(deal.stage_id, []).append(deal)
    board = [
        {
            "stage": stage,
            "deals": columns.get(stage.pk, []),
            "count": totals.get(stage.pk, {}).get("n", 0),
            "amounts": totals.get(stage.pk, {}).get("amounts", []),
        }
        for stage in stages
    ]
    return render(
        request,
        "crm/deal_board.html",
        {
            "pipeline": pipeline,
            "pipelines": pipelines,
            "board": board,
            "stages": stages,
            "owners": forms.active_users(),
            "owner": owner,
            "limit": BOARD_LIMIT,
        },
    )


@login_required
def deal_detail(request, deal_id: int):
    deal = selectors.deal_get_for(request.user, deal_id)
    activities = list(selectors.activity_list_for(request.user).filter(deal=deal)[:100])
    return render(
        request,
        "crm/deal_detail.html",
        {
            "deal": deal,
            "timeline": timeline.deal_timeline(deal, activities, viewer=request.user),
            "activity_form": forms.ActivityForm(),
            "stages": list(deal.pipeline.stages.all()),
            "can_change": permissions.can_change(request.user, deal),
            **_record_panels(request, deal, "deals"),
        },
    )


@login_required
def deal_form(request, deal_id: int | None = None):
    deal = None
    if deal_id is not None:
        deal = selectors.deal_get_for(request.user, deal_id)
        permissions.require_change(request.user, deal)
    elif not permissions.can_create(request.user, Deal):
        raise PermissionDenied
    if request.method == "POST":
        form = forms.DealForm(request.POST, user=request.user)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                if deal is None:
                    data.pop("lost_reason")
                    deal = services.deal_create(actor=request.user, request=request, **data)
                else:
                    services.deal_update(actor=request.user, deal=deal, request=request, **data)
            except ValidationError as exc:
                _apply_form_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error("owner", str(exc) or _("You cannot choose this owner."))
            else:
                messages.success(request, _("Deal saved."))
                return redirect(deal)
    else:
        initial = {"stage": selectors.pipeline_default().stages.all()[0].pk, "currency": "USD"}
        if request.GET.get("company"):
            initial["company"] = _int(request.GET["company"])
        if deal is not None:
            initial = {
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
        form = forms.DealForm(initial=initial, user=request.user)
    return render(request, "crm/form.html", _form_context(form, deal, _("deal")))


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
    except ValidationError as exc:
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
        except ValidationError as exc:
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


def _shares(record) -> list[dict]:
    user_table, group_table = permissions.permission_tables(type(record))
    shares: dict[str, dict] = {}
    for row in user_table.objects.filter(content_object=record).select_related(
        "user", "permission"
    ):
        level = row.permission.codename.split("_", 1)[0]
        entry = shares.setdefault(
            f"user:{row.user_id}", {"who": f"user:{row.user_id}", "label": str(row.user)}
        )
        entry["level"] = "change" if "change" in (entry.get("level"), level) else level
    for row in group_table.objects.filter(content_object=record).select_related(
        "group__team", "permission"
    ):
        team = getattr(row.group, "team", None)
        if team is None:
            continue
        level = row.permission.codename.split("_", 1)[0]
        entry = shares.setdefault(
            f"team:{team.pk}", {"who": f"team:{team.pk}", "label": str(team), "team": True}
        )
        entry["level"] = "change" if "change" in (entry.get("level"), level) else level
    return sorted(shares.values(), key=lambda e: (not e.get("team"), e["label"]))


def _record_panels(request, record, kind: str) -> dict:
    can_share = permissions.can_share(request.user, record)
    return {
        "kind": kind,
        "can_edit": permissions.can_change(request.user, record),
        "can_share": can_share,
        "can_archive": permissions.can_archive(request.user, record) and not record.is_archived,
        "can_restore": permissions.can_archive(request.user, record) and record.is_archived,
        "shares": _shares(record) if can_share else [],
        "share_form": forms.ShareForm() if can_share else None,
        "can_add_activity": permissions.can_add_activity(request.user, record),
        "activity_form": forms.ActivityForm(),
    }


@login_required
@require_POST
def record_share(request, kind: str, record_id: int):
    record = _record_for(request.user, kind, record_id)
    form = forms.ShareForm(request.POST)
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
    model = csv_io.MODELS[kind]
    if not permissions.can_create(request.user, model):
        raise PermissionDenied
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
    if kind == "companies":
        qs = _filter_common(
            request, selectors.company_list_for(request.user), search=selectors.company_search_q
        ).order_by("name", "id")
    elif kind == "contacts":
        qs = _filter_common(
            request, selectors.contact_list_for(request.user), search=selectors.contact_search_q
        ).order_by("last_name", "first_name", "id")
    else:
        raise Http404
    response = StreamingHttpResponse(
        csv_io.export_rows(kind, qs), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="keepline-{kind}.csv"'
    return response

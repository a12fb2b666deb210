"""Money and moments as the reader writes them: one money filter (Babel) and one date format,
in the viewer's language and time zone; a stage named like the status is not said twice."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import translation

from crm.models import Stage
from tests.crm.factories import DealFactory, default_pipeline

pytestmark = pytest.mark.django_db
NBSP = "\xa0"


@pytest.mark.parametrize(
    "language, expected",
    [("en", "€114,500.00"), ("es", f"114.500,00{NBSP}€"), ("pt-br", f"€{NBSP}114.500,00")],
)
def test_money_in_the_readers_locale(language, expected):
    template = Template("{% load crm %}{{ amount|money:currency }}")
    with translation.override(language):
        out = template.render(Context({"amount": "114500.00", "currency": "EUR"}))
    assert out == expected


def test_money_without_an_amount_is_blank_and_an_odd_currency_still_reads():
    template = Template("{% load crm %}[{{ a|money:c }}]")
    assert template.render(Context({"a": None, "c": "EUR"})) == "[]"
    with translation.override("en"):
        assert template.render(Context({"a": 5, "c": "usd"})) == "[$5.00]"


def _deal(rep, **kwargs):
    return DealFactory(owner=rep, amount="114500.00", currency="EUR", **kwargs)


@pytest.mark.parametrize(
    "accept, expected", [("en", "€114,500.00"), ("es", "114.500,00"), ("pt-BR", "€ 114.500,00")]
)
def test_deal_pages_show_money_with_separators(client, rep, accept, expected):
    deal = _deal(rep)
    client.force_login(rep)
    for path in (deal.get_absolute_url(), "/deals/", "/deals/board/"):
        html = client.get(path, HTTP_ACCEPT_LANGUAGE=accept).content.decode().replace(NBSP, " ")
        assert expected in html, path
        assert "114500.00 EUR" not in html, path


def test_a_stage_named_like_the_status_is_said_once(client, rep):
    lost = Stage.objects.get(pipeline=default_pipeline(), name="Lost")
    deal = _deal(rep, stage=lost, status="lost")
    client.force_login(rep)
    html = client.get(deal.get_absolute_url()).content.decode()
    cell = html.split('data-testid="deal-stage">', 1)[1].split("</dd>", 1)[0]
    assert cell.count("Lost") == 1 and "badge status-lost" in cell
    listing = client.get("/deals/").content.decode()
    row = listing.split('data-testid="deal-row"', 1)[1].split("</tr>", 1)[0]
    assert row.count("Lost") == 1


def test_an_open_deal_keeps_its_stage_name_beside_the_badge(client, rep):
    deal = _deal(rep)
    client.force_login(rep)
    html = client.get(deal.get_absolute_url()).content.decode()
    cell = html.split('data-testid="deal-stage">', 1)[1].split("</dd>", 1)[0]
    assert deal.stage.name in cell and "badge status-open" in cell


@pytest.mark.parametrize(
    "accept, expected", [("en", "3 Dec 2026, 11:05"), ("es", "3 Dic 2026, 11:05")]
)
def test_one_date_format_in_the_viewers_time_zone(client, rep, accept, expected):
    rep.timezone = "America/Sao_Paulo"  # UTC-3
    rep.save(update_fields=["timezone"])
    closed = dt.datetime(2026, 12, 3, 14, 5, tzinfo=dt.UTC)
    deal = _deal(rep, status="won", closed_at=closed)
    client.force_login(rep)
    html = client.get(deal.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert expected in html
    assert "2026-12-03" not in html


def test_the_audit_page_uses_the_same_format_in_the_viewers_zone(client, admin_user):
    admin_user.timezone = "Asia/Tokyo"  # UTC+9
    admin_user.save(update_fields=["timezone"])
    client.force_login(admin_user)
    html = client.get("/audit/").content.decode()
    assert "Time (Asia/Tokyo)" in html
    with translation.override("en"):
        from django.utils import timezone
        from django.utils.formats import date_format

        from audit.models import AuditEvent

        event = AuditEvent.objects.order_by("-seq").first()
        local = timezone.localtime(event.created_at, timezone=dt.timezone(dt.timedelta(hours=9)))
        assert date_format(local, "DATETIME_FORMAT") in html


def test_without_a_zone_of_their_own_a_person_sees_their_browsers_zone(client, rep):
    closed = dt.datetime(2026, 12, 3, 14, 5, tzinfo=dt.UTC)
    deal = _deal(rep, status="won", closed_at=closed)
    client.force_login(rep)
    client.cookies["keepline_tz"] = "Asia/Tokyo"  # set by keepline.js from Intl
    assert "3 Dec 2026, 23:05" in client.get(deal.get_absolute_url()).content.decode()
    client.cookies["keepline_tz"] = "Not/AZone"  # ignored: the organisation's zone (UTC)
    assert "3 Dec 2026, 14:05" in client.get(deal.get_absolute_url()).content.decode()
    rep.timezone = "America/Sao_Paulo"  # a zone of their own wins over the browser's
    rep.save(update_fields=["timezone"])
    client.cookies["keepline_tz"] = "Asia/Tokyo"
    assert "3 Dec 2026, 11:05" in client.get(deal.get_absolute_url()).content.decode()

"""Demo data for seed_demo: ~50 companies, 200 contacts and 80 deals across stages and reps.

Deterministic (a seeded random generator), idempotent (records are keyed by name, email and
title; only the missing ones are made) and fast (bulk_create). Bulk rows skip the per-record
audit trail on purpose; one crm.demo.seeded event records what was added.
"""

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

import audit
from crm.models import (
    Activity,
    Channel,
    Company,
    Contact,
    ContactConsent,
    ContactEmail,
    ContactPhone,
    Deal,
    LifecycleStage,
    Pipeline,
    Tag,
)

N_COMPANIES, N_CONTACTS, N_DEALS = 50, 200, 80
REPS = ("rep1", "rep2", "rep3", "rep4")
PREFIXES = ["Alpha", "Blue", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris",
            "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx", "Prism", "Quartz", "River",
            "Summit", "Tidal", "Umber", "Vertex", "Willow", "Xenon", "Yarrow"]  # fmt: skip
SUFFIXES = ["Logistics", "Foods", "Health", "Labs", "Retail", "Energy", "Media", "Motors"]
INDUSTRIES = ["Logistics", "Food & beverage", "Healthcare", "Software", "Retail", "Energy",
              "Media", "Automotive"]  # fmt: skip
FIRST = ["Ana", "Bruno", "Carla", "Diego", "Elena", "Felipe", "Gabriela", "Hugo", "Isabel",
         "Javier", "Lucía", "Mateo", "Nuria", "Pablo", "Renata", "Sofía", "Tomás", "Valeria",
         "John", "Mary", "Peter", "Linda", "James", "Susan"]  # fmt: skip
LAST = ["Silva", "Santos", "Oliveira", "García", "Martínez", "López", "Smith", "Johnson",
        "Pereira", "Costa", "Fernández", "Romero", "Brown", "Davis", "Almeida", "Ruiz"]  # fmt: skip
# (country code, area/prefix generator) giving valid mobiles in Brazil, Spain and the US.
PHONES = [
    lambda r: f"+55119{r.randint(10000000, 99999999)}",
    lambda r: f"+346{r.randint(10000000, 99999999)}",
    lambda r: f"+1415{r.randint(2000000, 9999999)}",
]
DEAL_WORDS = ["renewal", "expansion", "pilot", "onboarding", "upgrade", "rollout", "licences"]
TAGS = ["vip", "partner", "inbound", "event", "referral"]


@transaction.atomic
def seed(people: dict, stdout) -> None:
    """people maps demo usernames to users."""
    rng = random.Random(4)  # noqa: S311 - demo data, not secrets
    reps = [people[name] for name in REPS if name in people]
    if not reps:
        return
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in TAGS}
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        return
    stages = list(pipeline.stages.order_by("position"))

    # Companies, keyed by name.
    names = []
    for i in range(N_COMPANIES):
        names.append(f"{PREFIXES[i % len(PREFIXES)]} {SUFFIXES[(i * 3 + i // 25) % len(SUFFIXES)]}")
    existing = set(Company.objects.filter(name__in=names).values_list("name", flat=True))
    new_companies = []
    for i, name in enumerate(names):
        owner = reps[i % len(reps)]
        industry = INDUSTRIES[(i * 3 + i // 25) % len(INDUSTRIES)]
        phone = PHONES[i % 3](rng)
        if name in existing:
            continue
        new_companies.append(
            Company(
                name=name,
                domain=name.lower().replace(" ", "") + ".example",
                industry=industry,
                phone=phone,
                address=f"{rng.randint(1, 999)} Demo Street",
                owner=owner,
            )
        )
    Company.objects.bulk_create(new_companies)
    companies = list(Company.objects.filter(name__in=names).order_by("name"))
    for i, company in enumerate(new_companies):
        company = next(c for c in companies if c.name == company.name)
        company.tags.add(tags[TAGS[i % len(TAGS)]])

    # Contacts, keyed by their (unique) demo email.
    emails = []
    plan = []
    for i in range(N_CONTACTS):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        email = f"{first.lower()}.{last.lower()}.{i}@demo-customer.example"
        emails.append(email)
        plan.append((i, first, last, email, PHONES[i % 3](rng), rng.random()))
    have = set(ContactEmail.objects.filter(email__in=emails).values_list("email", flat=True))
    new_contacts, new_emails, new_phones, new_consents = [], [], [], []
    now = timezone.now()
    for i, first, last, email, phone, roll in plan:
        if email in have:
            continue
        company = companies[i % len(companies)] if companies else None
        contact = Contact(
            first_name=first,
            last_name=last,
            title=rng.choice(["CEO", "CTO", "Buyer", "Operations lead", "Head of sales", ""]),
            company=company,
            owner=company.owner if company else reps[i % len(reps)],
            preferred_channel=Channel.values[i % len(Channel.values)],
            lifecycle_stage=LifecycleStage.values[i % len(LifecycleStage.values)],
        )
        new_contacts.append(contact)
        new_emails.append((contact, email))
        new_phones.append((contact, phone))
        if roll < 0.6:
            new_consents.append((contact, Channel.WHATSAPP if i % 2 else Channel.EMAIL))
    Contact.objects.bulk_create(new_contacts)
    ContactEmail.objects.bulk_create(
        ContactEmail(contact=c, email=e, is_primary=True) for c, e in new_emails
    )
    ContactPhone.objects.bulk_create(
        ContactPhone(contact=c, number=n, is_primary=True) for c, n in new_phones
    )
    ContactConsent.objects.bulk_create(
        ContactConsent(
            contact=c,
            channel=ch,
            status=ContactConsent.Status.GRANTED,
            recorded_at=now,
            source="Demo web form",
        )
        for c, ch in new_consents
    )

    # Deals, keyed by title.
    contacts_by_company: dict[int, list[Contact]] = {}
    for contact in Contact.objects.filter(
        pk__in=ContactEmail.objects.filter(email__in=emails).values("contact_id")
    ).order_by("pk"):
        contacts_by_company.setdefault(contact.company_id, []).append(contact)
    titles = []
    for i in range(N_DEALS):
        company = companies[i % len(companies)]
        titles.append(f"{company.name} {DEAL_WORDS[i % len(DEAL_WORDS)]} #{i + 1}")
    have_titles = set(Deal.objects.filter(title__in=titles).values_list("title", flat=True))
    new_deals, deal_contacts = [], []
    for i, title in enumerate(titles):
        stage = stages[(i * 5) % len(stages)]
        company = companies[i % len(companies)]
        amount = Decimal(rng.randrange(1_000, 120_000, 500))
        close = (now + dt.timedelta(days=rng.randint(-30, 120))).date()
        if title in have_titles:
            continue
        people_here = contacts_by_company.get(company.pk, [])
        deal = Deal(
            title=title,
            company=company,
            primary_contact=people_here[0] if people_here else None,
            pipeline=pipeline,
            stage=stage,
            status=stage.status,
            closed_at=now if stage.status != Deal.Status.OPEN else None,
            lost_reason="Chose a competitor" if stage.is_lost else "",
            amount=amount,
            currency=["USD", "EUR", "BRL"][i % 3],
            expected_close_date=close,
            owner=company.owner,
        )
        new_deals.append(deal)
        deal_contacts.append((deal, people_here[:2]))
    Deal.objects.bulk_create(new_deals)
    Through = Deal.contacts.through
    Through.objects.bulk_create(
        Through(deal_id=deal.pk, contact_id=c.pk) for deal, cs in deal_contacts for c in cs
    )
    Activity.objects.bulk_create(
        Activity(
            kind=[Activity.Kind.NOTE, Activity.Kind.CALL, Activity.Kind.TASK][i % 3],
            subject=["Intro call", "Sent proposal", "Follow up on pricing"][i % 3],
            body="",
            due_at=now + dt.timedelta(days=3) if i % 3 == 2 else None,
            deal=deal,
            author=deal.owner,
        )
        for i, (deal, _cs) in enumerate(deal_contacts)
    )
    # A few shares, so the demo shows shared records: rep3's first deals are shared with rep1,
    # and rep4's with the Field sales team.
    for deal in new_deals:
        if deal.owner.username == "rep3" and deal.pk % 4 == 0 and "rep1" in people:
            assign_perm("crm.view_deal", people["rep1"], deal)
        if deal.owner.username == "rep4" and deal.pk % 4 == 0:
            team = getattr(people.get("rep1"), "team", None)
            if team is not None and team.group_id:
                assign_perm("crm.change_deal", team.group, deal)
    added = {
        "companies": len(new_companies),
        "contacts": len(new_contacts),
        "deals": len(new_deals),
    }
    if any(added.values()):
        audit.record(actor=None, action="crm.demo.seeded", data=added)
    stdout.write(
        f"CRM demo: {Company.objects.count()} companies, {Contact.objects.count()} contacts, "
        f"{Deal.objects.count()} deals (added {added['companies']}, {added['contacts']}, "
        f"{added['deals']})."
    )

import datetime as dt

import factory
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import Team, User

PASSWORD = "correct-horse-battery-staple"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from accounts import services

        parent = kwargs.pop("parent", None)
        return services.team_save(team=model_class(*args, **kwargs), parent=parent)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password(PASSWORD)
    # Test people work around the clock, so notifications are never held back by the hour the
    # suite runs at; tests of quiet hours (issue 14, point 7) give people their hours.
    work_days = "1234567"
    work_start = dt.time(0)
    work_end = dt.time(0)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


def make_user(role: str | None = None, **kwargs) -> User:
    return UserFactory(role=role, **kwargs)


ROLE = roles


CHANNEL_DEFAULTS = {
    "whatsapp": (
        {"phone_number_id": "1000001", "business_account_id": "2000001"},
        {"access_token": "wa-token", "app_secret": "wa-app-secret", "verify_token": "wa-verify"},
    ),
    "sms": (
        {"account_sid": "AC" + "0" * 32, "from_number": "+15550001111"},
        {"auth_token": "twilio-auth-token"},
    ),
    "email": (
        {"from_address": "sales@keepline.test", "smtp_host": "127.0.0.1"},
        {"inbound_secret": "email-inbound-secret", "smtp_password": "smtp-pass"},
    ),
}


def make_channel_account(kind: str = "whatsapp", *, team=None, settings=None, secrets=None, **kw):
    """A channel account saved through the service (actor None: the system), with working
    defaults for its kind; `settings` / `secrets` override them key by key."""
    from connectors import services
    from connectors.models import ChannelAccount

    base_settings, base_secrets = CHANNEL_DEFAULTS[kind]
    account = ChannelAccount(
        kind=kind,
        name=kw.pop("name", f"{kind} account"),
        team=team,
        settings={**base_settings, **(settings or {})},
        **kw,
    )
    return services.channel_account_save(
        actor=None, account=account, secrets={**base_secrets, **(secrets or {})}
    )

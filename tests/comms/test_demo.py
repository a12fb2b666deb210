from django.core.management import call_command

from comms.models import Conversation, CustomerLink, Message, QuickReply


def test_seed_demo_is_idempotent(db, capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    assert "http://127.0.0.1:8000/c/" in first
    counts = (Conversation.objects.count(), Message.objects.count(), QuickReply.objects.count())
    assert counts[0] >= 2 and counts[1] > 5
    # rep1's own two quick replies and the Field sales team's one.
    assert set(QuickReply.objects.values_list("owner__username", "team__name", "title")) == {
        ("rep1", None, "hello"),
        ("rep1", None, "followup"),
        (None, "Field sales", "pricing"),
    }
    call_command("seed_demo")
    assert (
        Conversation.objects.count(),
        Message.objects.count(),
        QuickReply.objects.count(),
    ) == counts
    assert CustomerLink.objects.filter(revoked_at__isnull=True).count() == 1
    assert Message.objects.filter(retracted=True).count() == 1

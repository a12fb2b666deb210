"""Per-conversation change numbers (docs/realtime.md, "Gap-free sync").

Every change to a conversation's messages (a new message, an edit, a retraction) takes the
conversation's next `seq`, and, when the customer sees it, its next `customer_seq`; the message
keeps the numbers of its latest change. The counters move in the same UPDATE that locks the
conversation's row, so within a conversation numbers are given and committed in order: once a
client holds number N, every change numbered below N has committed, and a hole in what it
received is exactly what it must fetch (`?since=`).
"""

from __future__ import annotations

from django.db import connections, router

from comms.models import Conversation, Message

SEQ_RETURNING = "seq, customer_seq"


def customer_sees(conversation: Conversation, direction: str) -> bool:
    """Whether a message of this direction takes a number in the customer's numbering."""
    return not conversation.is_internal and direction != Message.Direction.NOTE


def seq_set_sql(quote, customer: bool) -> str:
    """The SET terms moving the counters by one change (customer's too when `customer`)."""
    terms = f"{quote('seq')} = {quote('seq')} + 1"
    if customer:
        terms += f", {quote('customer_seq')} = {quote('customer_seq')} + 1"
    return terms


def next_seq(conversation: Conversation, message: Message) -> None:
    """Number one change to `message` (an edit, a retraction): one UPDATE ... RETURNING that also
    locks the conversation's row until commit. Sets the message's numbers (not saved)."""
    connection = connections[router.db_for_write(Conversation)]
    quote = connection.ops.quote_name
    customer = message.customer_seq is not None
    sql = (
        f"UPDATE {quote(Conversation._meta.db_table)} SET {seq_set_sql(quote, customer)}"  # noqa: S608
        f" WHERE id = %s RETURNING {SEQ_RETURNING}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [conversation.pk])
        seq, customer_seq = cursor.fetchone()
    message.seq = seq
    if customer:
        message.customer_seq = customer_seq

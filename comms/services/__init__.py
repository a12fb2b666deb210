"""Every write of conversations, by topic. Each service checks permission (comms.permissions),
writes, records its audit event, and queues its socket events on the event bus
(config.events.send_event_on_commit) so nobody hears of what was rolled back. Refusals raise
ServiceErrors (comms.errors) carrying the protocol's code and an HTTP status.

- messages: the one write path of messages (drafts from every source, `messages_store`);
- edits: edit and retract;
- reads: read positions;
- conversations: start, internal create, assign, status, a customer's inbound start;
- links: customer web-chat links;
- members: internal conversations' membership;
- attachments: files (stored through the messages path) and their downloads;
- statuses: delivery status of outbound channel messages, as providers report it;
- purge: tombstones (retention, erasure), refusing what a legal hold covers;
- versions: reading a message's versions (audited for those who see everything);
- quick_replies: canned answers kept per user and per team.

The names below are the package's interface for views, API, consumers, tasks and commands.
"""

from comms.services.attachments import (
    attachment_content_type,
    attachment_download_record,
    attachment_name,
    attachment_receive,
    attachment_upload,
)
from comms.services.conversations import (
    conversation_assign,
    conversation_open_inbound,
    conversation_set_status,
    conversation_start,
    internal_conversation_create,
)
from comms.services.edits import message_edit, message_retract
from comms.services.inputs import clean_body, clean_client_id, clean_id
from comms.services.links import customer_link_issue, customer_link_revoke, customer_link_send
from comms.services.members import member_add, member_remove
from comms.services.messages import (
    MessageDraft,
    SendResult,
    channel_draft,
    customer_draft,
    message_inbound_record,
    message_post_system,
    message_receive,
    message_send,
    message_store,
    messages_store,
    staff_draft,
    system_draft,
)
from comms.services.purge import message_bodies_purge
from comms.services.quick_replies import (
    quick_reply_create,
    quick_reply_delete,
    quick_reply_update,
)
from comms.services.reads import conversation_mark_read, customer_mark_read
from comms.services.statuses import message_status_record
from comms.services.versions import message_versions_view_record

__all__ = [
    "message_bodies_purge",
    "MessageDraft",
    "SendResult",
    "attachment_content_type",
    "attachment_download_record",
    "attachment_name",
    "attachment_receive",
    "attachment_upload",
    "channel_draft",
    "clean_body",
    "clean_client_id",
    "clean_id",
    "conversation_assign",
    "conversation_mark_read",
    "conversation_open_inbound",
    "conversation_set_status",
    "conversation_start",
    "customer_draft",
    "customer_link_issue",
    "customer_link_revoke",
    "customer_link_send",
    "customer_mark_read",
    "internal_conversation_create",
    "member_add",
    "member_remove",
    "message_edit",
    "message_inbound_record",
    "message_post_system",
    "message_receive",
    "message_retract",
    "message_send",
    "message_status_record",
    "message_store",
    "message_versions_view_record",
    "messages_store",
    "quick_reply_create",
    "quick_reply_delete",
    "quick_reply_update",
    "staff_draft",
    "system_draft",
]

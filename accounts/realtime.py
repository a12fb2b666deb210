"""Names of the per-user and per-session socket groups, and the events sent to them (through
the one event bus, config.events)."""

import hashlib

from config.events import send_event_on_commit


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_group(session_key: str) -> str:
    # Session keys are secrets: the group name carries a digest, never the key.
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def close_user_sockets_on_commit(user_id: int, reason: str = "revoked") -> None:
    send_event_on_commit(user_group(user_id), {"type": "connection.close", "reason": reason})


def close_session_sockets_on_commit(session_key: str, reason: str = "signed_out") -> None:
    send_event_on_commit(session_group(session_key), {"type": "connection.close", "reason": reason})


def recheck_users_on_commit(user_ids, reason: str = "access_changed") -> None:
    """After commit, every socket of these people re-reads their role facts and access, then
    goes on or closes (4403). Sent when anything that grants access changed."""
    for user_id in sorted({int(u) for u in user_ids if u is not None}):
        send_event_on_commit(
            user_group(user_id),
            {"type": "access.recheck", "conversation_ids": None, "reason": reason},
        )


def notify_user_on_commit(user_id: int, payload: dict) -> None:
    send_event_on_commit(user_group(user_id), {"type": "notification.message", "payload": payload})

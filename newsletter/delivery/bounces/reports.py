"""Reading the reports that come back after sending: delivery status notifications (RFC 3464)
and abuse complaints (ARF, RFC 5965). Plain parsing, no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default

from newsletter.delivery.bounces.replies import enhanced_status, status_gone

BOUNCE, COMPLAINT, KEPT = "bounce", "complaint", "kept"


class MalformedReport(ValueError):
    """A report that says it is one but lacks what RFC 3464 or RFC 5965 require."""


@dataclass(frozen=True)
class Finding:
    """What one report says about one recipient. `kind` is BOUNCE (the address is gone),
    COMPLAINT, or KEPT (a permanent failure that does not say the address is gone, such as a
    full mailbox: reported, not acted on). `address` may be None in a redacted complaint, where
    only the original Message-ID can tell who it was."""

    kind: str
    address: str | None
    detail: str
    message_id: str | None
    # A DSN's Original-Recipient, when the message was forwarded and Final-Recipient names the
    # address it was forwarded to: the address we sent to.
    original_recipient: str | None = None


def read_report(message: EmailMessage) -> list[Finding] | None:
    """The findings of a DSN or an ARF report; None for any other message (auto-replies,
    mail to the bounce address from people), which bounce processing ignores."""
    if message.get_content_type() != "multipart/report":
        return None
    report_type = str(message.get_param("report-type", "")).lower()
    parts = list(message.iter_parts())
    original = _original_message_id(parts)
    if report_type == "delivery-status":
        return _dsn(parts, original)
    if report_type == "feedback-report":
        return _arf(parts, original)
    return None


def _dsn(parts: Sequence[Message], original: str | None) -> list[Finding]:
    status_part = _part(parts, "message/delivery-status")
    if status_part is None:
        raise MalformedReport("a delivery-status report without a message/delivery-status part")
    blocks = status_part.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise MalformedReport("the delivery-status part has no per-recipient fields")
    findings = []
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        if not isinstance(block, Message):
            raise MalformedReport("the delivery-status part is not a list of field blocks")
        original_recipient = block.get("Original-Recipient")
        recipient = block.get("Final-Recipient") or original_recipient
        action, status = block.get("Action"), block.get("Status")
        if not recipient or not action or not status:
            raise MalformedReport(
                "a recipient's delivery status lacks Final-Recipient, Action or Status"
            )
        code = enhanced_status(str(status))
        if code is None:
            raise MalformedReport(f"Status {str(status).strip()!r} is not a status code")
        if str(action).strip().lower() != "failed" or not code.startswith("5."):
            continue  # delayed, delivered, relayed, expanded, or a transient failure
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        findings.append(
            Finding(
                BOUNCE if status_gone(code) else KEPT,
                _address(str(recipient)),
                f"{code} {diagnostic}".strip(),
                original,
                _address(str(original_recipient)) if original_recipient else None,
            )
        )
    return findings


def _arf(parts: Sequence[Message], original: str | None) -> list[Finding]:
    feedback_part = _part(parts, "message/feedback-report")
    if feedback_part is None:
        raise MalformedReport("a feedback report without a message/feedback-report part")
    fields = _fields(feedback_part)
    feedback_type = str(fields.get("Feedback-Type", "")).strip().lower()
    if not feedback_type:
        raise MalformedReport("the feedback report has no Feedback-Type")
    if feedback_type == "not-spam":
        return []
    recipients = fields.get_all("Original-Rcpt-To") or fields.get_all("Removal-Recipient") or []
    addresses: list[str | None] = [_address(str(r)) for r in recipients]
    if not addresses:
        to = _original_header(parts, "To")
        addresses = [_address(to) if to and "@" in to else None]
    return [Finding(COMPLAINT, a, f"complaint: {feedback_type}", original) for a in addresses]


def _part(parts: Sequence[Message], content_type: str) -> Message | None:
    return next((p for p in parts if p.get_content_type() == content_type), None)


def _fields(part: Message) -> Message:
    """The fields of a message/* report part, however the parser held them."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        first = payload[0]
        assert isinstance(first, Message)
        return first
    return HeaderParser(policy=default).parsestr(str(payload))


def _original_headers(parts: Sequence[Message]) -> Message | None:
    for part in parts[1:]:
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            return _fields(part)
        if content_type == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            return HeaderParser(policy=default).parsestr(text)
    return None


def _original_header(parts: Sequence[Message], name: str) -> str | None:
    headers = _original_headers(parts)
    value = headers.get(name) if headers is not None else None
    return str(value) if value else None


def _original_message_id(parts: Sequence[Message]) -> str | None:
    value = _original_header(parts, "Message-ID")
    return value.strip() if value else None


def _address(field: str) -> str:
    """`rfc822; user@example.org` (DSN address-type; address) or a bare or bracketed address."""
    value = field.partition(";")[2] if ";" in field else field
    value = value.strip()
    if "<" in value and ">" in value:
        value = value[value.index("<") + 1 : value.rindex(">")]
    return value.strip()

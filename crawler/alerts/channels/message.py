"""What every alert channel is given and may raise: an `AlertMessage` to deliver, a
`DeliveryError` when that fails.

The dispatcher (`crawler.alerts.dispatch`) decides what to send and when; a channel only turns
`AlertMessage` values into a delivery (webhook, e-mail, Atom feed).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MatchedTerm:
    """Why an article was flagged for a conflict: the alias found, and where."""

    conflict_id: str
    conflict: str  # the conflict's display name
    alias: str
    field: str  # "title", "lead", "body" or "topic"


@dataclass(frozen=True)
class OtherCopy:
    """Another source that carried the same story."""

    source: str
    url: str
    title: str | None = None


@dataclass(frozen=True)
class AlertMessage:
    """One alert: an article a subscription asked for, with what made it match."""

    uid: str  # stable across retries: the Atom entry id and part of the Idempotency-Key
    subscription_id: str
    kind: str  # "new", "update" or "test"
    created_at: str  # UTC ISO 8601
    title: str
    url: str
    source_id: str
    source_name: str
    published_at: str | None = None
    language: str | None = None
    lead: str | None = None
    topic: str | None = None
    image_url: str | None = None
    conflicts: tuple[str, ...] = ()  # conflict display names
    matched: tuple[MatchedTerm, ...] = ()
    other_copies: tuple[OtherCopy, ...] = field(default=())


# the channels import the types above, so they come last

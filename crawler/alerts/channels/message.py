"""What every alert channel is given and may raise: an `AlertMessage` (an article for a
desk) or an `OperatorNotice` (something about Veille itself) to deliver, a `DeliveryError`
when that fails.

The dispatcher (`crawler.alerts.dispatch`) decides what to send and when; a channel only turns
these values into a delivery (webhook, e-mail, Atom feed, Apprise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


# Notice kinds that close an incident; the others open one.
RECOVERIES = frozenset({"recovered", "delivery-recovered", "polling-resumed"})


@dataclass(frozen=True)
class OperatorNotice:
    """One notice to an operator subscription: a source broken or recovered, a delivery
    given up on (or working again), polling stopped or resumed. Its text is written when
    it is queued (crawler/alerts/operators.py), from redacted messages only."""

    uid: str  # stable across retries, like an alert's
    subscription_id: str
    kind: str  # "broken", "recovered", "delivery-failed", "delivery-recovered",
    # "polling-stopped" or "polling-resumed"
    incident: str  # what the notice is about: the same for a problem and its recovery
    created_at: str  # UTC ISO 8601
    title: str  # one line: "source lemonde-topic broken: its listing yields no article link"
    body: str  # plain text, a few lines: what happened, since when, what to do
    source_id: str | None = None
    about_subscription: str | None = None  # the subscription whose delivery failed
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def recovery(self) -> bool:
        """Whether this notice closes its incident."""
        return self.kind in RECOVERIES


Message = AlertMessage | OperatorNotice


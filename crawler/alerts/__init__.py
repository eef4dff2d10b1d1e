"""Alert delivery: the dispatcher that sends what the outbox queued, and its channels
(webhook, e-mail, Atom)."""

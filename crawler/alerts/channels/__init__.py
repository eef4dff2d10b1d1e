"""How an alert reaches a desk: the message every channel formats (`message`), and one
module per channel: a webhook, an e-mail, an Atom feed, and `apprise` (every chat service
Apprise knows; imported only by the dispatcher, Apprise being slow to import)."""

from crawler.alerts.channels.atom import write_feed
from crawler.alerts.channels.mail import build_email, send_email
from crawler.alerts.channels.message import AlertMessage, MatchedTerm, OtherCopy
from crawler.alerts.channels.webhook import format_text, send_webhook, verify_signature
from crawler.errors import DeliveryError

__all__ = ["AlertMessage", "DeliveryError", "MatchedTerm", "OtherCopy", "build_email",
           "format_text", "send_email", "send_webhook", "verify_signature",
           "write_feed"]

"""Words in Veille's messages: counts with their noun in the right number."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """"1 source", "2 sources", "0 sources" (`many` for an irregular plural:
    plural(2, "delivery", "deliveries"))."""
    return f"{count} {word if count == 1 else many or word + 's'}"

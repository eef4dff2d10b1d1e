"""A source's CSS selectors: which article fields they may override, checked once.

`Selectors` is made when the configuration is read (or when a caller of
`crawler.page.extract.extract_article` passes a plain mapping); every page then uses it
as it is, without checking it again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from crawler.config.validation import check_selector
from crawler.errors import ConfigError

# The fields of an article a source's `[source.selectors]` may override.
SELECTOR_FIELDS = (
    "title", "lead", "body", "authors", "published", "updated", "topic", "section", "image",
)


class Selectors(Mapping[str, str]):
    """Field -> CSS selector, each field one of SELECTOR_FIELDS and each selector valid CSS.

    Raises ConfigError (a ValueError) on the first that is not, naming it (`where` says
    where it was read: "sources.toml: source lorient-karabakh: selectors").
    """

    def __init__(self, by_field: Mapping[str, object] | None = None,
                 where: str = "selectors"):
        checked: dict[str, str] = {}
        for name, css in (by_field or {}).items():
            if name not in SELECTOR_FIELDS:
                raise ConfigError(f"{where}.{name} is not a field "
                                  f"(one of {', '.join(SELECTOR_FIELDS)})")
            if not isinstance(css, str):
                raise ConfigError(f"{where}.{name} must be a string (a CSS selector)")
            check_selector(css, f"{where}.{name}")
            checked[name] = css
        self._by_field = checked

    @classmethod
    def of(cls, selectors: Mapping[str, object] | None) -> Selectors:
        """`selectors` as checked Selectors: as they are when checked already."""
        return selectors if isinstance(selectors, Selectors) else cls(selectors)

    def __getitem__(self, field: str) -> str:
        return self._by_field[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_field)

    def __len__(self) -> int:
        return len(self._by_field)

    def __repr__(self) -> str:
        return f"Selectors({self._by_field!r})"

"""Extract an article's main text and metadata from a news page.

Structured metadata (JSON-LD, OpenGraph, <meta>) wins over heuristics; trafilatura supplies
the main text and, as a last resort, the metadata nothing else provided. One module per
kind of reading: `page` parses once and asks each field's readers in order; `structured`,
`dates`, `authors`, `language`, `body` and `text` do one job each.
"""

from crawler.config.selectors import SELECTOR_FIELDS
from crawler.page.extract.article import ExtractedArticle, extract_article

__all__ = ["SELECTOR_FIELDS", "ExtractedArticle", "extract_article"]

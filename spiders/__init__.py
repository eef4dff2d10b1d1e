"""Veille's spiders: one generic spider per kind of source, driven by its configuration."""

from spiders.feed import FeedSpider
from spiders.sitemap import SitemapSpider
from spiders.topic import TopicSpider

SPIDERS = {"topic": TopicSpider, "feed": FeedSpider, "sitemap": SitemapSpider}

__all__ = ["SPIDERS", "FeedSpider", "SitemapSpider", "TopicSpider"]

"""Pure page and text work, no Scrapy and no database: article extraction (`extract/`),
charsets, listing links, URLs, feed discovery, the normal form of a text, its story
fingerprint and its conflict matches."""

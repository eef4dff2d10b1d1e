"""The SQLite record: the schema and its migrations, the store, the story index, the
article record type, the alert outbox written in the article's own transaction, the raw
pages (WARC) and their re-extraction."""

"""The configuration: the TOML file read into a frozen `Config` (`model`), every
value's allowed range (`validation`), subscriptions and their channels, cron text as a
trigger (`cron`), and the redaction that keeps secrets out of what is stored. The bottom
layer: it imports no other part of Veille."""

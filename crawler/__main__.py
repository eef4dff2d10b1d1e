"""`python -m crawler` is the `veille` command."""

from crawler.cli import main

main()

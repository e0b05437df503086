"""``python -m sqlfleet``."""

from sqlfleet.cli import main

main()

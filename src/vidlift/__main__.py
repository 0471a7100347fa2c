"""``python -m vidlift``: the same as the ``vidlift`` console script."""

from vidlift.cli.main import main

main()

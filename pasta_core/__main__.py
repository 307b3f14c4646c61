"""``python -m pasta_core`` runs the ``pasta`` command line."""

from pasta_core.cli import main

main()

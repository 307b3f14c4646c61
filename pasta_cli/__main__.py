"""``python -m pasta_cli`` runs the ``pasta`` command line."""

from pasta_cli import main

main()

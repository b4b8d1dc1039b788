"""``python -m spoke`` runs the command line."""

from spoke.cli import main

main()

"""`python -m classifier.cli`: the `pmc` command."""

from . import main

main()

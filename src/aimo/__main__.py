"""`python -m aimo` is the `aimo` command."""

from aimo.cli.app import main

main()

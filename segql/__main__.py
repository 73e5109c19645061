"""`python -m segql …` runs the command line."""

from segql.cli import main

main()

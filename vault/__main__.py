"""`python -m vault …` is `vault …`."""

from vault.cli import main

main(prog_name="vault")

"""`python -m generator.cli …` runs avgen (as the `avgen` command does)."""
from generator.cli.app import app

app(prog_name="avgen")

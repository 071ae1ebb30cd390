"""`python -m app.cli ...` is `formcast ...`."""

from app.cli.main import main

main()

"""The `formcast` command line: one module per command group, joined in `app.cli.main`."""

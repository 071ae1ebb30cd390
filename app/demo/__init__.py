"""The demo workspace: sample data and its catalog (`formcast demo`)."""

"""Formcast generators: task kinds, compile pipeline, dialects, validation."""

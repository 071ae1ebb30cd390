"""What users touch: CLI, runners, UI, scheduler."""

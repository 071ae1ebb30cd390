"""What happens to a task: stored drafts, versions and review, runs and their atomic publish."""

"""Lineage outside the compiler: indexing task folders, drawing graphs, OpenLineage events."""

"""Bundled bible corpus files (data only)."""

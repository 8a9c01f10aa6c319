"""Placeholder for later issues (see ARCHITECTURE.md)."""

"""Tests of dockwright.store."""

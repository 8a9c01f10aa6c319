"""Tests of dockwright.publish."""

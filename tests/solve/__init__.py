"""Tests of dockwright.solve."""

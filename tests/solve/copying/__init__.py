"""Tests of dockwright.solve.copying (COPY/ADD semantics, facts checked against BuildKit)."""

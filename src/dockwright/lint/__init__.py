"""``dockwright lint``: rules as data over one parse of a Dockerfile.

- :mod:`~dockwright.lint.engine`: :func:`~dockwright.lint.engine.lint` and the
  :class:`~dockwright.lint.engine.LintContext` every rule reads (the stage graph from
  ``plan/``, per-stage WORKDIR/ENV/ARG, each RUN's facts, the build context);
- :mod:`~dockwright.lint.rules`: the registry ``ALL_RULES`` (DW001-DW008, the mistakes other
  linters miss; DW101 on, BuildKit's checks and the hadolint rules that matter);
- :mod:`~dockwright.lint.findings` and :mod:`~dockwright.lint.config`: findings, their
  formats, settings and inline ignores; :mod:`~dockwright.lint.fix`: the safe ``--fix``.

Nothing is imported here, so importing one of these modules stays cheap.
"""

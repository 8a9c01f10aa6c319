"""The solver: runs a Dockerfile's stages (cache hits from the store, misses in the sandbox).

- :class:`~dockwright.solve.options.BuildOptions`: what to build.
- :class:`~dockwright.solve.builder.Builder`: runs the build into the store.
- :class:`~dockwright.solve.bases.ImageResolver`: where FROM images come from (the CLI adds
  registry pulls; :class:`~dockwright.solve.bases.StoreResolver` only reads the store).
- :mod:`dockwright.solve.copying`: COPY/ADD semantics and their content checksums.
"""

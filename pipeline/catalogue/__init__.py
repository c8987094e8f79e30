"""The catalogue: one record per product under DEST, across every batch (library only, no web code).

A shop thinks in products, the pipeline in batches. The catalogue joins them:

- :mod:`pipeline.catalogue.products`: what a product is (its source key, or its sidecar's ``sku``).
- :mod:`pipeline.catalogue.model`: the records (product, version, decision, live) and the decision
  rules (newest version, a rejection carried to identical bytes, "rejected before").
- :mod:`pipeline.catalogue.homes`: reading a batch folder (or ``_fixes/``) into versions,
  decisions and publish rows; the decision journal each home keeps.
- :mod:`pipeline.catalogue.store`: ``DEST/_catalogue/``, sharded, every write a compare-and-swap;
  ``sync`` (incremental) and ``rebuild`` from the homes.
- :mod:`pipeline.catalogue.queue`: the review queue (filters, order, counts) over the records.
- :mod:`pipeline.catalogue.fixes`: a version made by a reviewer's fix, not by a batch.

Nothing here imports the web server, Prefect or the pipeline's stages.
"""

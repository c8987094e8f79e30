"""Review and publish: people's decisions on the catalogue's products, and copying what they approved.

No web code here (the server in ``review_server/`` is a thin layer over this package):

- :mod:`pipeline.review.folder`: ``DEST`` or ``DEST/<batch_id>`` (local or fsspec URL), safe reads.
- :mod:`pipeline.review.session`: the review queue over the catalogue (:mod:`pipeline.catalogue`).
- :mod:`pipeline.review.pictures`: a version's files and overlays; :mod:`pipeline.review.views`
  draws them (mask edges, ΔE00 heat map).
- :mod:`pipeline.review.reports`: decisions in ``report.json`` / ``report.html``.
- :mod:`pipeline.review.publish`: each product's newest approved version copied to a target.
"""

"""Review and publish: what people decided about a batch, and copying what they approved.

No web code here (the server in ``review_server/`` is a thin layer over this package):

- :mod:`pipeline.review.folder`: a batch folder (local or fsspec URL) and safe reads from it.
- :mod:`pipeline.review.decisions`: ``DEST/<batch_id>/decisions.json``, updated with compare-and-swap.
- :mod:`pipeline.review.views`: review pictures (mask edges, ΔE00 heat map) computed from the outputs.
- :mod:`pipeline.review.reports`: decisions put into ``report.json`` / ``report.html``.
- :mod:`pipeline.review.publish`: approved composites copied to a target, with a manifest.
"""

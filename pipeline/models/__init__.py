"""Model loading helpers shared by the weights-based backends (loading only, no inference).

- :mod:`pipeline.models.sources`: where weights come from (hub id + revision, local folder, single
  file), safetensors-only policy, offline mode, provenance (ids, revisions, hashes).
- :mod:`pipeline.models.cache`: a process-wide load-once cache with one lock per loaded model.
- :mod:`pipeline.models.sam_loader`: SAM checkpoints through ``torch.load(weights_only=True)``.
- :mod:`pipeline.models.devices`: device / dtype parsing and checks.

Nothing here loads a model at import time.
"""

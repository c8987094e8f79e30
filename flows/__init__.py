"""Prefect orchestration for product-scene: thin tasks around :mod:`pipeline`, the
``process-bucket`` flow, task-runner choice, artifacts, and ``product-scene serve``.

Import the flow from :mod:`flows.process_bucket`; this package imports nothing heavy itself.
"""

"""The ``diffusion`` scene backend: SD1.5/SDXL ControlNet inpainting with IP-Adapter (diffusers).

:mod:`.config` (its settings), :mod:`.pipelines` (loading), :mod:`.inputs` (work geometry and
masks), :mod:`.schedulers`, :mod:`.backend` (the backend itself), and the speed levers
(:mod:`.accel`, :mod:`.deepcache`, :mod:`.cuda_graphs`, :mod:`.fast_controlnet`,
:mod:`.product_batch`). Importing this package imports no torch.
"""

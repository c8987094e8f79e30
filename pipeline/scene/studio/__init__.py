"""The ``studio`` scene backend: procedural CPU backdrops (:mod:`.surfaces`), contact and cast
shadows and floor reflections (:mod:`.cast_shadows`), composed by :class:`.backend.StudioBackend`.
No weights."""

"""Planning and fanning out a batch: duplicate groups (:mod:`.plan`), worker processes (:mod:`.pool`)."""

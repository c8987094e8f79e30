"""Bytes in and out: untrusted image decoding (:mod:`.imageio`, :mod:`.formats`, :mod:`.icc`),
storage through fsspec (:mod:`.storage`), the compare-and-swap store the ledger and review share
(:mod:`.conditional_store`) and which storage errors are worth a retry (:mod:`.transient`)."""

"""The processed-ledger: what is done, who is working on what, in the destination bucket.

Plain fsspec, no Prefect: the flows and the CLI share it. Built for object stores without
rename or locks; the only primitive is a conditional write (:mod:`pipeline.io.conditional_store`).

Layout under DEST::

    _ledger/done/<identity>-<config_hash>.json       one per committed item, created once, never rewritten
    _ledger/leases/<name>.json                       owner + expiry of an item (or batch) in progress
    _ledger/index/<key-id>.<fingerprint-id>.<identity>   empty objects: listing fingerprint -> identity
    _ledger/open/<batch_id>.json                     a batch whose report is not written yet
    _ledger/batches/<batch_id>/<name>.json           the records a batch committed (report recovery)

An *item* is a source key with its bytes and its sidecar, under one config
(:func:`~pipeline.ledger.identities.item_identity`): every key is its own item (a copy of a photo
under another name gets its own output; the batch reuses the computed result), a new sidecar or
a new config makes the item new. A key that fails before its bytes can be read (unsafe, not a
regular file, unreadable, too large) is an item named by the key and its listing fingerprint
(:func:`~pipeline.ledger.identities.key_identity`): recorded once, tried again when it changes.

Exactly-once, precisely:

1. Commit is the creation of ``done/<item>.json`` with create-if-absent (``If-None-Match: *`` on
   S3, ``os.link`` locally). At most one attempt ever commits an item; a done record is never
   overwritten or deleted by the pipeline.
2. A done record is created only after every output file its record names exists under
   ``DEST/<batch_id>/<item_id>/`` (checked by listing), so a record always points at whole outputs.
3. Outputs of attempts that do not commit are deleted: by the attempt itself when its commit
   loses or it stops early (a storage error, Ctrl-C), and by the committing attempt for every earlier holder of the item's lease (leases
   carry the output prefixes of the holders they replaced). After recovery, each item has exactly
   one output folder: the one its done record names.
4. Computation is at-least-once: a crash, or a lease that expired under a slow worker, can make
   an item be computed twice; only one result is ever committed and kept.
5. Nothing is lost: an attempt that fails transiently or dies leaves no done record, so the item
   is picked up by the next run once its lease is free (at once when the holder is a dead process
   on this machine, else after ``lease_ttl_s``).

Leases only avoid duplicate work; rule 1 alone makes commits exactly-once. On stores without
conditional writes (:class:`~pipeline.io.conditional_store.ReadBackStore`) rule 1 is best effort.

Modules: :mod:`~pipeline.ledger.identities` (hashes and names), :mod:`~pipeline.ledger.owners`
(lease owners), :mod:`~pipeline.ledger.records` (stored JSON), :mod:`~pipeline.ledger.leases`
(leases and their heartbeat), :mod:`~pipeline.ledger.ledger` (the :class:`Ledger`),
:mod:`~pipeline.ledger.once` (:func:`process_once`), :mod:`~pipeline.ledger.inputs`
(:func:`move_input`), :mod:`~pipeline.io.conditional_store` (conditional writes per backend).
"""

from pipeline.ledger.identities import (
                                        content_hash_of,
                                        fingerprint,
                                        hash_object,
                                        item_identity,
                                        item_name,
                                        key_identity,
                                        name_for_key,
                                        result_identity,
                                        sidecar_hash,
                                        sidecar_key,
)
from pipeline.ledger.inputs import move_input
from pipeline.ledger.leases import Heartbeat, Lease
from pipeline.ledger.ledger import DEFAULT_LEASE_TTL_S, LEDGER, Ledger
from pipeline.ledger.once import Outcome, TransientItemError, commit_failure, outputs_present, process_once
from pipeline.ledger.owners import Owner, local_node_id, process_start_ticks
from pipeline.ledger.records import DoneRecord, LeaseInfo, record_from_json

__all__ = [
                                        "DEFAULT_LEASE_TTL_S",
                                        "LEDGER",
                                        "DoneRecord",
                                        "Heartbeat",
                                        "Lease",
                                        "LeaseInfo",
                                        "Ledger",
                                        "Outcome",
                                        "Owner",
                                        "TransientItemError",
                                        "commit_failure",
                                        "content_hash_of",
                                        "fingerprint",
                                        "hash_object",
                                        "item_identity",
                                        "item_name",
                                        "key_identity",
                                        "local_node_id",
                                        "move_input",
                                        "name_for_key",
                                        "outputs_present",
                                        "process_once",
                                        "process_start_ticks",
                                        "record_from_json",
                                        "result_identity",
                                        "sidecar_hash",
                                        "sidecar_key",
]

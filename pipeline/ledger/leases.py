"""Leases: a held claim on an item (or batch), renewed by a heartbeat thread, released once."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Protocol, Self

from pipeline.io.conditional_store import ConditionalStore
from pipeline.ledger.records import LeaseInfo
from pipeline.redact import redact

log = logging.getLogger(__name__)


class LeaseKeeper(Protocol):
    """What a lease needs of the ledger that issued it (:class:`pipeline.ledger.ledger.Ledger`)."""

    store: ConditionalStore
    lease_ttl_s: float

    def lease_key(self, name: str) -> str: ...

    def _forget(self, lease: Lease) -> None: ...


class Lease:
    """A held lease. Renewed by the ledger's heartbeat; ``lost`` turns True if someone took it over."""

    def __init__(self, ledger: LeaseKeeper, info: LeaseInfo, version: str, previous: LeaseInfo | None):
        self.ledger = ledger
        self.info = info
        self.version = version
        self.previous = previous
        self.lost = False
        self.released = False
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def orphans(self) -> tuple[str, ...]:
        """Output prefixes of earlier holders that never committed (deleted after our commit)."""
        return self.info.orphans

    def renew(self) -> bool:
        """Push the expiry forward (compare-and-swap); False (and ``lost``) if it was taken over."""
        with self._lock:
            if self.lost or self.released:
                return not self.lost
            info = replace(self.info, expires_at=time.time() + self.ledger.lease_ttl_s)
            version = self.ledger.store.replace(self.ledger.lease_key(self.name), info.to_bytes(), self.version)
            if version is None:
                self.lost = True
                log.warning("lease %s was taken over by another worker", self.name)
                return False
            self.info, self.version = info, version
            return True

    def release(self) -> None:
        with self._lock:
            if self.released:
                return
            self.released = True
        self.ledger._forget(self)
        if not self.lost:
            self.ledger.store.delete(self.ledger.lease_key(self.name), self.version)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.release()
        except Exception as err:  # noqa: BLE001 - an expired lease is harmless; never mask the real error
            log.warning("could not release lease %s: %s", self.name, redact(str(err)))


# ----------------------------------------------------------------------------- the ledger



class Heartbeat:
    """One daemon thread that renews held leases before they expire.

    ttl_s: lease lifetime; period_s: how often the thread wakes (< ttl_s). A lease is renewed
    once less than ``ttl_s - 0.9 * period_s`` of its life is left.
    """

    def __init__(self, ttl_s: float, period_s: float):
        self.ttl_s = ttl_s
        self.period_s = period_s
        self._held: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, lease: Lease) -> Lease:
        """Renew ``lease`` from now on (starts the thread if needed)."""
        with self._lock:
            self._held[id(lease)] = lease
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="ledger-heartbeat", daemon=True)
                self._thread.start()
        return lease

    def forget(self, lease: Lease) -> None:
        with self._lock:
            self._held.pop(id(lease), None)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            with self._lock:
                held = list(self._held.values())
            for lease in held:
                if lease.info.expires_at - time.time() > self.ttl_s - self.period_s * 0.9:
                    continue
                try:
                    lease.renew()
                except Exception as err:  # noqa: BLE001 - transient: next beat retries, the TTL has slack
                    log.warning("lease renewal for %s failed: %s", lease.name, redact(str(err)))

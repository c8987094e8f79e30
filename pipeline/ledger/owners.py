"""Who holds a lease, and whether that process is still alive (same machine: PID + start time)."""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def local_node_id() -> str:
    """This machine + boot + PID namespace: processes with equal node ids can check each other's PIDs.

    Without ``/proc`` the id is unique per process, so liveness falls back to lease expiry.
    """
    parts = [socket.gethostname()]
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            parts.append(fh.read().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append(uuid.uuid4().hex)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (guards against PID reuse); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
        return int(stat[stat.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Owner:
    """Who holds a lease. ``holder`` is stable across retries of one attempt (e.g. a task run id)."""

    node: str
    pid: int
    pid_start: int | None
    holder: str
    host: str = ""
    label: str = ""

    @classmethod
    def current(cls, holder: str, label: str = "") -> Owner:
        pid = os.getpid()
        return cls(local_node_id(), pid, process_start_ticks(pid), holder, socket.gethostname(), label)

    def alive(self) -> bool | None:
        """False when this owner is a dead process on this node; None when it cannot be told."""
        if self.node != local_node_id():
            return None
        if not os.path.exists(f"/proc/{self.pid}"):
            return False if os.path.isdir("/proc/self") else None
        start = process_start_ticks(self.pid)
        return start is None or self.pid_start is None or start == self.pid_start

    def as_json(self) -> dict[str, Any]:
        return {"node": self.node, "pid": self.pid, "pid_start": self.pid_start, "holder": self.holder,
                "host": self.host, "label": self.label}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Owner:
        return cls(str(data.get("node", "")), int(data.get("pid", 0)), data.get("pid_start"),
                   str(data.get("holder", "")), str(data.get("host", "")), str(data.get("label", "")))


# ----------------------------------------------------------------------------- records

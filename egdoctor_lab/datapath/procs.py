"""Child processes of the lab: started in their own session, tracked by PID, stopped by PID."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from pathlib import Path


class ManagedProcess:
    def __init__(
        self, name: str, argv: list[str], log_path: Path, pid_file: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.pid_file = pid_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        if self.alive():
            raise RuntimeError(f"{self.name} is already running as PID {self.pid}")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env=self.env,
            )
        _record_pid(self.pid_file, self.name, self.proc.pid)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 3.0) -> int | None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(2.0)
            except ProcessLookupError:
                pass
        _record_pid(self.pid_file, self.name, None)
        self.proc = None
        return proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


_pid_lock = threading.Lock()


def _record_pid(pid_file: Path, name: str, pid: int | None) -> None:
    """Keep ``pids.json`` in the state directory current, so a crashed run can be cleaned up by PID."""
    with _pid_lock:
        try:
            data = json.loads(pid_file.read_text())
        except (OSError, ValueError):
            data = {}
        if pid is None:
            data.pop(name, None)
        else:
            data[name] = pid
        tmp = pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, pid_file)

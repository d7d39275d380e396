"""bin/run prints its URL and sign-in lines last and stops everything within 10 s of a signal."""

import contextlib
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from billing.pipeline.demo import demo_seed

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_pids(sid: int) -> list[int]:
    """The live processes of bin/run's session (zombies wait on init, not on bin/run)."""
    out = subprocess.run(
        ["ps", "-eo", "sid=,pid=,stat="], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    rows = (line.split() for line in out.splitlines())
    return [int(pid) for s, pid, stat in rows if int(s) == sid and not stat.startswith("Z")]


def _session_ended(sid: int, *, by: float) -> bool:
    """Whether every process of the session is gone by the monotonic time `by`."""
    while _session_pids(sid):
        if time.monotonic() > by:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('run')}/run.sqlite3"


def _signals_as_in_a_terminal():
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "Ctrl-C"])
def test_bin_run_stops_web_and_qcluster_within_10_s(database, sig, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env |= {"DATABASE_URL": database, "PORT": str(_free_port()), "SEED_DEMO": "0"}
    env |= {"WEB_WORKERS": "1", "Q_WORKERS": "1", "SKIP_INSTALL": "1"}
    # Its own static root: the suite scans var/staticfiles while collectstatic rewrites it.
    env |= {"STATIC_ROOT": str(tmp_path / "static")}
    proc = subprocess.Popen(
        ["bash", "bin/run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # As from a terminal: a suite started in the background (`nohup … &`) ignores SIGINT,
        # and a shell that starts with a signal ignored may not trap it.
        preexec_fn=_signals_as_in_a_terminal,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not any("Press Ctrl-C to stop" in line for line in seen):
            assert time.monotonic() < deadline, "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert proc.poll() is None, "".join(seen)
        time.sleep(1)  # let the qcluster start its workers
        assert len(_session_pids(proc.pid)) >= 3, "web server and qcluster are running"
        started = time.monotonic()
        os.kill(proc.pid, sig)
        proc.wait(timeout=15)
        elapsed = time.monotonic() - started
        assert elapsed < 10, f"stopping took {elapsed:.1f} s"
        # A worker whose parent already exited may take a moment more: 10 s is for everything.
        assert _session_ended(proc.pid, by=started + 10), "every process of bin/run has exited"
        text = "".join(seen)
        assert "Custory is running at" in text
        assert text.rstrip().endswith("Press Ctrl-C to stop.")
    finally:
        for pid in _session_pids(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_seeding_reports_progress(workspace, admin):
    calls = []
    stored, processed = demo_seed(
        workspace=workspace, actor=admin, customers=10, progress=lambda *a: calls.append(a)
    )
    assert calls and calls[-1] == (processed, stored)

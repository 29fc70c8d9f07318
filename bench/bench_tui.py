"""Time from process start to the TUI's first screen on the terminal (target: under 1.5 s).

Runs ``workbench --db STORE`` in a pseudo-terminal (120x36) with ``WORKBENCH_TUI_EXIT_ON_READY=1``:
the App quits as soon as its first screen has been drawn and prints the wall-clock time of that
moment, which is compared with the time just before the process was started. The store holds
the sample dataset and is opened once before timing (warm caches, as on a researcher's machine).

    python bench/bench_tui.py [--runs 7] [--command workbench]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY = b"workbench-tui-ready "
APP_ONLY = (
    "import sys; from workbench.engine.store import Store; "
    "from workbench.tui.app import WorkbenchApp; WorkbenchApp(Store(sys.argv[1])).run()"
)


def time_once(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from just before the process started to its first screen being drawn."""
    started = time.time()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 120x36 cells, then the command
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        os.execvpe(argv[0], argv, env)
    output = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if b"\x1b[c" in chunk or b"\x1b[16t" in chunk or b"\x1b_G" in chunk:
                os.write(fd, b"\x1b[?62;c")  # answer terminal queries like a VT220 would
    os.waitpid(pid, 0)
    os.close(fd)
    at = output.find(READY)
    if at < 0:
        raise RuntimeError(f"no ready line from {' '.join(argv)}: {output[-400:]!r}")
    return float(output[at + len(READY) :].split()[0]) - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--command", default=str(ROOT / ".venv" / "bin" / "workbench"))
    parser.add_argument(
        "--app-only",
        action="store_true",
        help="start the App directly (python -c ...), without the CLI's imports",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        env = dict(os.environ, TERM="xterm-256color", WORKBENCH_TUI_EXIT_ON_READY="1")
        env.pop("WORKBENCH_NO_SAMPLE", None)
        argv = [args.command, "--db", str(db)]
        time_once(argv, env)  # creates the store with the sample, warms the OS and JIT caches
        if args.app_only:
            argv = [sys.executable, "-c", APP_ONLY, str(db)]
        times = sorted(time_once(argv, env) for _ in range(args.runs))
    print(
        f"first screen after {statistics.median(times):.3f} s (median of {args.runs}; "
        f"min {times[0]:.3f} s, max {times[-1]:.3f} s): "
        + ("the App alone (--app-only)" if args.app_only else f"{args.command} --db STORE")
    )
    return 0 if statistics.median(times) < 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())

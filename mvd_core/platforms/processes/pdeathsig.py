"""Exec a program that dies with the thread that forked it.

Run as ``python -I -S pdeathsig.py <parent pid> <program> [args...]`` (standard library only;
nothing of ``mvd_core`` is importable here). It asks the kernel to SIGKILL this process when
its parent thread exits (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), checks that the parent did not
exit before that took effect, and replaces itself with the program: same pid, same process
group, and the death signal survives ``execv``. This is the ``preexec_fn`` the supervisor
does not use, because ``preexec_fn`` can deadlock a forked child of a multi-threaded parent.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent, program = int(sys.argv[1]), sys.argv[2]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        os.write(2, f"mvd: prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}\n".encode())
        os._exit(70)
    if os.getppid() != parent:
        os._exit(71)  # the supervisor died between fork and prctl: nobody would stop this runtime
    try:
        os.execv(program, sys.argv[2:])
    except OSError as exc:
        os.write(2, f"mvd: cannot run {program}: {exc.strerror}\n".encode())
        os._exit(127)


if __name__ == "__main__":
    main()

"""Run the `autograde` command as a user does: a separate process, with a plain PATH."""
import subprocess
import sys


def autograde(*args, **env):
    """`python -m autograde ARGS` in a child process; returns the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, "-m", "autograde", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", **env})

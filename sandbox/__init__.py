"""Run untrusted Python functions in a sandboxed process, and judge their answers in this one.

    launch.py     start a worker: bubblewrap (or a plain process) with rlimits, cgroups, a clean env
    cgroups.py    the workers' cgroups: made and removed here only
    worker.py     the worker: imports the untrusted modules, runs requests, answers
    channel.py    length-prefixed messages over pipes; the restricted unpickler for answers
    client.py     WorkerClient: call untrusted functions as if they were local
    files.py      read back files the untrusted code wrote, without following links out
    processes.py  Supervisor: children under time limits that never outlive this process

The package knows nothing of any homework: what to load, hide and set up comes from its caller
(a launch.Sandbox).
"""

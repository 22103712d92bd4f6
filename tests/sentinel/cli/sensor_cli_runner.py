"""Run the real ``sentinel`` command line with the ``sensor`` command registered (used by test_sensor.py).

The lead registers ``sentinel.cli.sensor`` in ``COMMAND_MODULES``; until then this adds it, so the
test exercises the same entry point (``main``: global ``--config``, one-line errors, exit codes).
"""

from __future__ import annotations

from sentinel.cli import COMMAND_MODULES, app, main

if "sensor" not in COMMAND_MODULES:
    from sentinel.cli.sensor import register

    register(app)

if __name__ == "__main__":
    main()

"""Entry point of the frozen app (PyInstaller): the same `gatehouse` as the console script.

GATEHOUSE_SELFCHECK=1 runs packaging/gatehouse_selfcheck.py instead (the build's smoke
test uses it to prove the frozen app carries its data files, plugins and libraries).
"""

import os
import sys


def _main() -> int:
    if sys.stdout is None or sys.stderr is None:  # a windowed Windows program has no console
        devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as we do
        sys.stdout = sys.stdout or devnull
        sys.stderr = sys.stderr or devnull
    if os.environ.get("GATEHOUSE_SELFCHECK") == "1":
        import gatehouse_selfcheck

        return gatehouse_selfcheck.main()
    from ui.launcher import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())

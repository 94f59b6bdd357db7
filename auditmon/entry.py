"""The ``auditmon`` command's entry point: it imports nothing before it can catch
Ctrl-C, so an interrupt during start-up exits quietly (status 130), not with a
traceback."""

import sys


def main() -> int:
    try:
        from auditmon.cli import main as run_command

        return run_command()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `digestbot` command (and `python -m digestbot`): stop signals are held from its first
line, before the half second of imports, for the command to act on (signals.py)."""

from .signals import catch_early


def main() -> None:
    """Hold the stop signals, then import and run the command line."""
    catch_early()
    from .cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()

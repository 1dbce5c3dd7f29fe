"""Logging of the command-line tools: the project's own INFO lines, the libraries' warnings only."""

import logging

NOISY = ("MESA", "mesa", "matplotlib", "fontTools", "numba")  # Mesa logs every step at INFO


def quiet_libraries() -> None:
    """Show only warnings and errors of the libraries that log at INFO or DEBUG."""
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)

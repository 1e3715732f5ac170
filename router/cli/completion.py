"""`completion SHELL`: the shell code that completes hotline-router's commands.

The completion itself is argcomplete's: the shell asks the command, which
answers from its own argument parser, so completion never goes stale.
"""

from __future__ import annotations

import argparse
from typing import Any

from argcomplete.shell_integration import shellcode

SHELLS = ("bash", "zsh", "fish", "tcsh")


async def shell_code(args: argparse.Namespace) -> int:
    print(shellcode(["hotline-router"], shell=args.shell), end="")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("completion", help="shell code for tab completion "
                            "(bash: eval \"$(hotline-router completion bash)\")")
    parser.add_argument("shell", choices=SHELLS, nargs="?", default="bash")
    parser.set_defaults(handler=shell_code)

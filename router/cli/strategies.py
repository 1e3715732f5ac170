"""`strategies`: the answering rules this installation offers."""

from __future__ import annotations

import argparse
import json
from typing import Any

import strategies


async def list_strategies(args: argparse.Namespace) -> int:
    installed = strategies.installed()
    if args.json:
        for name, strategy in installed.items():
            print(json.dumps({"name": name, "description": strategy.description}))
        return 0
    width = max(map(len, installed), default=0)
    for name, strategy in installed.items():
        print(f"{name:<{width}}  {strategy.description}")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("strategies", help="list the installed answering rules")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=list_strategies)

"""`customer …` and `token …`: customer accounts and the API tokens of the web console."""

from __future__ import annotations

import argparse
import json
from typing import Any

from router.cli.common import as_dict, pool, print_table
from router.web import tokens


async def customer_add(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await tokens.add_customer(db, args.name)
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"customer {row['name']} added (id {row['id']})")
    return 0


async def customer_list(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        rows = await tokens.list_customers(db)
    if args.json:
        for row in rows:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print_table(rows, ["id", "name", "hotlines", "tokens"])
    return 0


async def customer_assign(args: argparse.Namespace) -> int:
    customer = getattr(args, "customer", None)
    async with pool(args) as db:
        count = await tokens.assign(db, customer, args.numbers)
    owner = f"customer {customer}" if customer else "no customer"
    print(json.dumps({"hotlines": args.numbers, "customer": customer}) if args.json
          else f"{count} hotline(s) now belong to {owner}")
    return 0


async def token_create(args: argparse.Namespace) -> int:
    scope = "customer" if args.customer else "operator"
    async with pool(args) as db:
        created = await tokens.create(db, args.name, scope, args.customer)
    if args.json:
        print(json.dumps({"id": created.id, "name": created.name, "scope": created.scope,
                          "customer": created.customer, "token": created.token},
                         ensure_ascii=False))
    else:
        print(f"token {created.id} ({created.scope}"
              + (f", customer {created.customer}" if created.customer else "") + ") created;"
              " it is shown only now:")
        print(created.token)
    return 0


async def token_list(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        rows = await tokens.list_tokens(db)
    if args.json:
        for row in rows:
            print(json.dumps(as_dict(row), ensure_ascii=False))
    else:
        print_table(rows, ["id", "name", "scope", "customer", "created_at", "last_used_at",
                           "revoked_at"])
    return 0


async def token_revoke(args: argparse.Namespace) -> int:
    async with pool(args) as db:
        row = await tokens.revoke(db, args.id)
    print(json.dumps(as_dict(row), ensure_ascii=False) if args.json
          else f"token {row['id']} ({row['name']}) revoked")
    return 0


def _json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="JSON output")
    return parser


def register(sub: Any) -> None:
    topic = sub.add_parser("customer", help="customer accounts (who owns which hotlines)"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = _json(topic.add_parser("add", help="add a customer account"))
    parser.add_argument("name")
    parser.set_defaults(handler=customer_add)
    _json(topic.add_parser("list", help="customers, their hotlines and live tokens")
          ).set_defaults(handler=customer_list)
    parser = _json(topic.add_parser("assign", help="give hotlines to a customer"))
    parser.add_argument("customer", help="the customer's name")
    parser.add_argument("numbers", nargs="+", metavar="NUMBER")
    parser.set_defaults(handler=customer_assign)
    parser = _json(topic.add_parser("unassign", help="take hotlines from their customer"))
    parser.add_argument("numbers", nargs="+", metavar="NUMBER")
    parser.set_defaults(handler=customer_assign)

    topic = sub.add_parser("token", help="API tokens of the web console and API"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = _json(topic.add_parser(
        "create", help="a new token: --operator (everything) or --customer NAME (its hotlines)"))
    parser.add_argument("name", help="who or what uses it, e.g. 'crm sync'")
    # Which kind is said out loud: a forgotten --customer must not make an
    # operator token (one that sees and changes every hotline).
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--operator", action="store_true",
                      help="an operator token: every hotline, everything the admin CLI does")
    kind.add_argument("--customer", metavar="NAME", help="a customer token for this account")
    parser.set_defaults(handler=token_create)
    _json(topic.add_parser("list", help="tokens (never the tokens themselves)")
          ).set_defaults(handler=token_list)
    parser = _json(topic.add_parser("revoke", help="revoke a token at once"))
    parser.add_argument("id", type=int, metavar="ID")
    parser.set_defaults(handler=token_revoke)

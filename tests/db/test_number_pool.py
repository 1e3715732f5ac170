"""`numbers import` and `numbers search` against the real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.db.test_cli import cli


async def test_a_file_with_bad_lines_imports_nothing(database_url: str, db: Any,
                                                     tmp_path: Path) -> None:
    file = tmp_path / "numbers.csv"
    file.write_text("number,note\n4005550001,ok\n4005550002\n40055500\n"
                    "9005550003\n4005550001,again\n")
    done = cli(database_url, "numbers", "import", str(file))
    assert done.returncode == 2
    assert f"{file}:line 4: '40055500' has 8 digits" in done.stderr
    assert f"{file}:line 5: '9005550003' does not start with 400 or 800" in done.stderr
    assert f"{file}:line 6: 4005550001 repeats line 2" in done.stderr
    assert "nothing was imported" in done.stderr
    assert await db.fetchval(
        "SELECT count(*) FROM number_pool WHERE number LIKE '400555%'") == 0


async def test_import_grades_and_search_finds_by_pattern_and_tier(
        database_url: str, db: Any, tmp_path: Path) -> None:
    file = tmp_path / "numbers.txt"
    file.write_text("# stock from the carrier\n4008051122\n400-805-1221\n\n4001122805\n"
                    "4008059999\n4003792846\n")
    done = cli(database_url, "numbers", "import", str(file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5 number(s) added, 0 already in the pool"
    again = cli(database_url, "numbers", "import", str(file))
    assert again.stdout.strip() == "0 number(s) added, 5 already in the pool"

    stored = await db.fetchrow("SELECT * FROM number_pool WHERE number = '4008051122'")
    assert (stored["carrier"], stored["tier"]) == ("China Telecom", 3)
    assert stored["patterns"] == [{"pattern": "AABB", "place": "tail", "tier": 3, "start": 6,
                                   "digits": "1122"}]
    plain = await db.fetchrow("SELECT * FROM number_pool WHERE number = '4003792846'")
    assert (plain["tier"], plain["patterns"]) == (None, [])

    def search(*args: str) -> list[str]:
        found = cli(database_url, "numbers", "search", *args, "--json")
        assert found.returncode == 0, found.stderr
        return [json.loads(line)["number"] for line in found.stdout.splitlines()]

    assert set(search("--pattern", "AABB")) >= {"4008051122", "4001122805"}
    assert "4008051122" in search("--pattern", "AABB", "--tier", "3")
    assert "4001122805" not in search("--pattern", "AABB", "--tier", "3")  # middle: tier 4
    assert "4001122805" in search("--pattern", "AABB", "--place", "middle")
    assert "4008051221" in search("--pattern", "ABBA")
    assert "4008059999" in search("--tier", "2")  # AAAA tail
    assert "4008059999" not in search("--tier", "3")
    assert search("--pattern", "AAAA", "--carrier", "Mobile") == []
    table = cli(database_url, "numbers", "search", "--pattern", "AAAA")
    assert "400-805-9999" in table.stdout

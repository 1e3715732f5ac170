"""CSV downloads open in Excel with their Chinese intact: UTF-8 with a byte order mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.web import seed
from tests.web.conftest import bearer, make_account

BOM = b"\xef\xbb\xbf"


async def test_reports_and_statements_download_as_utf8_with_a_bom(
        api: Any, db: Any, hotline_number: str) -> None:
    account = await make_account(db, hotline_number)
    phone = await seed.bound_phone(db, account.number, "PJSIP/phones/sip:csv@127.0.0.1:5",
                                   "前台小王")
    today = datetime.now(UTC)
    await seed.call(db, account.number, "13800000001", today, 2.0, phone_id=phone)
    base = f"/api/v1/hotlines/{account.number}"
    day = today.date().isoformat()
    for path, words in ((f"{base}/stats/phones?format=csv&from=2000-01-01&to=2000-01-01",
                         "phone"),
                        (f"{base}/statements/{day[:7]}?format=csv", account.number)):
        response = await api.get(path, headers=bearer(account.token))
        raw = await response.read()
        assert response.status == 200, raw
        assert raw.startswith(BOM), path
        assert not raw[3:].startswith(BOM)
        assert words in raw.decode("utf-8-sig")
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    around = f"from={today.date() - timedelta(days=1)}&to={today.date() + timedelta(days=1)}"
    phones = await api.get(f"{base}/stats/phones?format=csv&{around}",
                           headers=bearer(account.token))
    assert "前台小王" in (await phones.read()).decode("utf-8-sig")

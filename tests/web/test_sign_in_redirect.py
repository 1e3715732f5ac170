"""After signing in the console returns to the page asked for: the whole of it (its
query encoded into ``next``), and only ever a page of this site."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


async def test_the_page_asked_for_comes_back_whole(api: Any) -> None:
    response = await api.get("/calls?hotline=4008001234&day=2026-10-12&outcome=missed",
                             allow_redirects=False)
    assert response.status == 303
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    assert parse_qs(urlsplit(location).query) == {
        "next": ["/calls?hotline=4008001234&day=2026-10-12&outcome=missed"]}


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "https://evil.example",
                                    "javascript:alert(1)", "/x\r\nSet-Cookie: a=b"])
async def test_sign_in_never_leads_to_another_site(
        api: Any, operator_token: str, target: str) -> None:
    form = await (await api.get("/login", params={"next": target})).text()
    assert 'name="next" value="/"' in form
    response = await api.post("/login", data={"token": operator_token, "next": target},
                              allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/"


async def test_sign_in_goes_to_the_local_page(api: Any, operator_token: str) -> None:
    response = await api.post("/login", data={"token": operator_token,
                                              "next": "/calls?hotline=4008001234&day=2026-10-12"},
                              allow_redirects=False)
    assert response.headers["Location"] == "/calls?hotline=4008001234&day=2026-10-12"

"""The console in a real headless browser (Debian's /usr/bin/chromium, driven by Playwright),
against `hotline-router web`, the lab Asterisk, a real router and sipp phones.

Screenshots of each page are written to artifacts/web/.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from router import admin
from router.web import tokens
from tests.conftest import PhoneFactory, add_hotline, wait_for_call
from tests.lab import sipp
from tests.lab.asterisk import AsteriskLab
from tests.lab.router import RouterProcess
from tests.lab.web import WebProcess
from tests.web import seed
from tests.web.conftest import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        chromium = await driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        await chromium.close()


async def signed_in(browser: Browser, web: WebProcess, token: str,
                    phone_sized: bool = False) -> Page:
    """A page signed in through the login form."""
    size: ViewportSize = ({"width": 390, "height": 844} if phone_sized
                          else {"width": 1280, "height": 900})
    context = await browser.new_context(viewport=size, locale="zh-CN",
                                        timezone_id="Asia/Shanghai")
    page = await context.new_page()
    await page.goto(f"{web.url}/wallboard")
    await expect(page).to_have_url(f"{web.url}/login?next=/wallboard")
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{web.url}/wallboard")
    return page


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def loads(router: RouterProcess) -> int:
    return router.log_tail(10**7).count('"configuration loaded"')


async def until_reloaded(router: RouterProcess, before: int, timeout_s: float = 5.0) -> None:
    """Until the router has reloaded its configuration since ``before`` loads."""
    deadline = time.monotonic() + timeout_s
    while loads(router) <= before:
        assert time.monotonic() < deadline, "the router did not reload its configuration"
        await asyncio.sleep(0.05)


@pytest.mark.lab
async def test_wallboard_shows_a_call_ringing_then_talking_then_gone_without_reload(
        browser: Browser, web_console: WebProcess, operator_token: str, db: Any,
        lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    phone = phones(answer_after_ms=3000)
    ids = await add_hotline(db, hotline_number, [phone], ring_timeout_s=10)
    await db.execute("UPDATE phones SET label = '前台小王' WHERE id = $1", ids[phone.dial_string])
    page = await signed_in(browser, web_console, operator_token)
    await expect(page.locator("#status")).to_have_text("实时")
    await page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    caller = "1371234" + hotline_number[-4:]

    placed = asyncio.create_task(sipp.call(lab.sip_address, hotline_number, caller=caller,
                                           hold_ms=3000))
    row = page.locator("#live-calls tr.call", has=page.locator(f"td.caller >> text='{caller}'"))
    await expect(row).to_have_attribute("data-state", "ringing", timeout=15_000)
    await expect(page.locator(f"#phones li[data-phone-id='{ids[phone.dial_string]}']")
                 ).to_have_attribute("data-state", "ringing")
    await screenshot(page, "wallboard-ringing")
    await expect(row).to_have_attribute("data-state", "talking", timeout=15_000)
    await expect(row.locator("td").last).to_have_text("前台小王")
    await screenshot(page, "wallboard-talking")
    await expect(row).to_have_count(0, timeout=20_000)
    seen = await placed

    assert seen.result == "answered", seen.errors
    assert await page.evaluate("window.loadedOnce") is True
    states = [s["state"] for s in await page.evaluate("window.hotlineWallboard.shown")
              if s["caller"] == caller]
    assert states.index("ringing") < states.index("talking")
    today = page.locator(f"#today tr[data-hotline='{hotline_number}'] td")
    await expect(today.nth(3)).to_have_text("1")  # answered today
    await screenshot(page, "wallboard-after")
    await page.context.close()


@pytest.mark.lab
async def test_the_call_log_shows_the_calls_legs_with_phone_labels(
        browser: Browser, web_console: WebProcess, operator_token: str, db: Any,
        lab: AsteriskLab, router: RouterProcess, phones: PhoneFactory,
        hotline_number: str) -> None:
    busy, answers = phones(reject_code=486), phones(answer_after_ms=200)
    ids = await add_hotline(db, hotline_number, [busy, answers])
    await db.execute("UPDATE phones SET label = '销售一部' WHERE id = $1", ids[busy.dial_string])
    await db.execute("UPDATE phones SET label = '销售二部' WHERE id = $1",
                     ids[answers.dial_string])
    seen = await sipp.call(lab.sip_address, hotline_number, caller="13912345678", hold_ms=1000)
    assert seen.result == "answered", seen.errors
    (call,) = await wait_for_call(db, hotline_number)

    page = await signed_in(browser, web_console, operator_token)
    await page.goto(f"{web_console.url}/calls?hotline={hotline_number}")
    rows = page.locator("#calls tbody tr[data-call-id]")
    await expect(rows).to_have_count(1)
    local_start = call["started_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    await expect(rows.first.locator("td").first).to_have_text(local_start)
    await screenshot(page, "calls")
    await rows.first.locator("a").click()
    await expect(page).to_have_url(f"{web_console.url}/calls/{call['id']}")
    legs = page.locator("#legs tr.leg")
    await expect(legs).to_have_count(2)
    await expect(legs.nth(0)).to_have_attribute("data-result", "busy")
    await expect(legs.nth(0).locator("td.label")).to_have_text("销售一部")
    await expect(legs.nth(1)).to_have_attribute("data-result", "answered")
    await expect(legs.nth(1).locator("td.label")).to_have_text("销售二部")
    await expect(page.locator("#outcome")).to_have_text("已接听")
    await expect(page.locator("#plan")).to_contain_text("默认接听规则")
    await screenshot(page, "call-detail")
    await page.context.close()


async def test_a_reports_plot_has_a_bar_per_answered_and_missed_part_of_each_hour(
        browser: Browser, web_console: WebProcess, operator_token: str, db: Any,
        hotline_number: str) -> None:
    await db.execute("INSERT INTO hotlines (number, name) VALUES ($1, '报表')", hotline_number)
    phone = await seed.bound_phone(db, hotline_number,
                                   f"PJSIP/phones/sip:r{hotline_number}@127.0.0.1:5", "客服")
    day = (2026, 10, 12)
    # hour -> (answered, missed), local time
    seeded = {9: (2, 1), 10: (1, 0), 14: (0, 2), 17: (1, 0)}
    for hour, (answered, missed) in seeded.items():
        for n in range(answered + missed):
            at = datetime(*day, hour, 5 + n, tzinfo=SHANGHAI)
            await seed.call(db, hotline_number, f"1380000{hour:02d}{n:02d}", at,
                            3.0 if n < answered else None, phone_id=phone)
    # A call on the next day does not belong to the plotted day.
    await seed.call(db, hotline_number, "13800009999", datetime(2026, 10, 13, 0, 30,
                                                                 tzinfo=SHANGHAI), 2.0)

    page = await signed_in(browser, web_console, operator_token)
    await page.goto(f"{web_console.url}/reports?hotline={hotline_number}"
                    "&from=2026-10-12&to=2026-10-12")
    hours = page.locator("#plot-hours")
    await expect(hours.locator("g.slot")).to_have_count(4)
    await expect(hours.locator("rect.bar")).to_have_count(5)
    await expect(hours.locator("rect.bar.answered")).to_have_count(3)
    await expect(hours.locator("rect.bar.missed")).to_have_count(2)
    keys = await hours.locator("g.slot").evaluate_all("gs => gs.map(g => g.dataset.key)")
    assert keys == ["09", "10", "14", "17"]
    nine = await hours.locator("g.slot[data-key='09'] rect.bar").evaluate_all(
        "rs => rs.map(r => [r.classList[1], Number(r.dataset.value), r.getBBox().height])")
    assert [(kind, value) for kind, value, _ in nine] == [("answered", 2), ("missed", 1)]
    assert nine[0][2] == pytest.approx(2 * nine[1][2], rel=0.01)  # heights in proportion
    await expect(page.locator("#plot-days g.slot")).to_have_count(1)
    await expect(page.locator("#summary .figure").first).to_contain_text("7")
    await screenshot(page, "reports")
    csv_link = page.locator("a", has_text="CSV").first
    async with page.expect_download() as download:
        await csv_link.click()
    raw = (await (await download.value).path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Chinese as UTF-8
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("key,calls,offered,answered,missed")
    assert text.splitlines()[1 + 9].startswith("09,3,3,2,1,")
    await page.context.close()


@pytest.mark.lab
async def test_a_settings_change_in_the_page_routes_the_next_call_by_the_new_rule(
        browser: Browser, web_console: WebProcess, db: Any, lab: AsteriskLab,
        router: RouterProcess, phones: PhoneFactory, hotline_number: str) -> None:
    first, second = phones(answer_after_ms=200), phones(answer_after_ms=200)
    ids = await add_hotline(db, hotline_number, [first, second])
    customer = f"设置测试-{hotline_number}"
    await tokens.add_customer(db, customer)
    await tokens.assign(db, customer, [hotline_number])
    token = (await tokens.create(db, "console", "customer", customer)).token
    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=500)
    assert seen.result == "answered", seen.errors
    (before,) = await wait_for_call(db, hotline_number)
    assert before["answered_dial_string"] == first.dial_string  # sequential: the first

    page = await signed_in(browser, web_console, token)
    await page.goto(f"{web_console.url}/settings?hotline={hotline_number}")
    await screenshot(page, "settings")
    reloads = loads(router)
    await page.select_option("#strategy", "weighted")
    await page.click("#save-rule")
    await expect(page.locator("#message")).to_have_text("接听规则：已保存")
    row = page.locator(f"#bindings tr[data-phone-id='{ids[first.dial_string]}']")
    await row.locator("input[name=weight]").fill("0")
    await row.locator("button.save-binding").click()
    await expect(page.locator("#message")).to_have_text(
        f"话机 {ids[first.dial_string]}：已保存")
    await screenshot(page, "settings-saved")
    # A refused change reads the database's sentence on the page, and changes
    # nothing. The page's own limits are lifted first, as an old copy of it
    # would lack them: the database is what refuses.
    ring = page.locator("input[name=ring_timeout_s]")
    await ring.evaluate("input => input.removeAttribute('max')")
    await ring.fill("301")
    await page.click("#save-rule")
    await expect(page.locator("#message")).to_have_text(
        "接听规则：hotline ring timeout must be 1 to 300 seconds")
    await page.context.close()
    assert tuple(await db.fetchrow("SELECT strategy, overflow FROM hotlines WHERE number = $1",
                                   hotline_number)) == ("weighted", "busy")
    await until_reloaded(router, reloads)

    seen = await sipp.call(lab.sip_address, hotline_number, hold_ms=500)
    assert seen.result == "answered", seen.errors
    after = (await wait_for_call(db, hotline_number, count=2))[-1]
    assert after["answered_dial_string"] == second.dial_string  # weight 0 never rings first


async def test_every_page_fits_a_phone_screen(
        browser: Browser, web_console: WebProcess, operator_token: str, db: Any,
        hotline_number: str) -> None:
    await admin.add_hotline(db, hotline_number, name="手机")
    await seed.bound_phone(db, hotline_number, f"PJSIP/phones/sip:m{hotline_number}@127.0.0.1:5",
                           "手机话机")
    call_id = await seed.call(db, hotline_number, "13800138000",
                              datetime.now(SHANGHAI), 2.0)
    page = await signed_in(browser, web_console, operator_token, phone_sized=True)
    for name, path in (("wallboard", "/wallboard"), ("calls", f"/calls?hotline={hotline_number}"),
                       ("call-detail", f"/calls/{call_id}"),
                       ("reports", f"/reports?hotline={hotline_number}"),
                       ("settings", f"/settings?hotline={hotline_number}")):
        await page.goto(web_console.url + path)
        await expect(page.locator("h1")).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px screen"
        await screenshot(page, f"{name}-phone")
    await page.context.close()


async def test_business_hours_edited_in_the_page_are_kept_and_close_the_hotline_outside_them(
        browser: Browser, web_console: WebProcess, operator_token: str, db: Any,
        hotline_number: str) -> None:
    await admin.add_hotline(db, hotline_number, name="营业时间")
    page = await signed_in(browser, web_console, operator_token)
    await page.goto(f"{web_console.url}/settings?hotline={hotline_number}")
    await page.click("#add-schedule")
    form = page.locator("form.schedule")
    await expect(form).to_have_count(1)
    await form.locator(".add-window").click()
    await form.locator(".add-window").click()
    windows = form.locator("tr.window")
    await windows.nth(1).locator("input[name=days]").fill("sat,holiday")
    await windows.nth(1).locator("input[name=opens]").fill("10:00")
    await windows.nth(1).locator("input[name=closes]").fill("16:00")
    await form.locator("input[name=closed_outside]").check()
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#message")).to_have_text("营业时间：已保存")
    await screenshot(page, "settings-hours")

    hours = await db.fetch(
        """SELECT array_to_string(w.days, ',') AS days, to_char(w.opens, 'HH24:MI') AS opens,
                  to_char(w.closes, 'HH24:MI') AS closes
           FROM schedule_windows w JOIN schedules s ON s.id = w.schedule_id
           JOIN hotlines h ON h.id = s.hotline_id WHERE h.number = $1 ORDER BY w.opens""",
        hotline_number)
    assert [tuple(r) for r in hours] == [("mon,tue,wed,thu,fri", "09:00", "18:00"),
                                         ("sat,holiday", "10:00", "16:00")]
    rule = await db.fetchrow(
        """SELECT r.position, r.action, r.schedule_is, s.name FROM plan_rules r
           JOIN schedules s ON s.id = r.schedule_id JOIN hotlines h ON h.id = r.hotline_id
           WHERE h.number = $1""", hotline_number)
    assert tuple(rule) == (1, "closed", "closed", "office")

    # A window that closes before it opens is refused with the database's sentence.
    await windows.nth(0).locator("input[name=closes]").fill("08:00")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#message")).to_have_text(
        "营业时间：window must close after it opens")
    assert await db.fetchval(
        """SELECT count(*) FROM schedule_windows w JOIN schedules s ON s.id = w.schedule_id
           JOIN hotlines h ON h.id = s.hotline_id WHERE h.number = $1""", hotline_number) == 2
    await page.context.close()


async def test_a_full_settings_page_fits_a_phone_screen_and_forwards_only_where_set(
        browser: Browser, web_console: WebProcess, operator_token: str, db: Any,
        hotline_number: str) -> None:
    """Hours, rules, long dial strings: still no sideways scrolling at 390 px. Forwarding
    is offered only with a target (set by the operator), and the page shows it."""
    await admin.add_hotline(db, hotline_number, name="设置很多的热线名称")
    for n in range(2):
        await seed.bound_phone(
            db, hotline_number,
            f"PJSIP/phones/sip:very-long-extension-name-{n}-{hotline_number}@192.168.100.200:5060",
            "售后服务部门前台话机")
    await db.execute(
        """WITH h AS (SELECT id FROM hotlines WHERE number = $1),
                s AS (INSERT INTO schedules (hotline_id, name) SELECT id, 'office' FROM h
                      RETURNING id, hotline_id)
           INSERT INTO schedule_windows (schedule_id, days, opens, closes)
           SELECT id, '{mon,tue,wed,thu,fri}', '09:00', '18:00' FROM s""", hotline_number)
    await db.execute(
        """INSERT INTO plan_rules (hotline_id, position, name, caller_region, action)
           SELECT id, 1, '上海来电的很长很长的规则名称', '上海', 'refuse' FROM hotlines
           WHERE number = $1""", hotline_number)
    page = await signed_in(browser, web_console, operator_token, phone_sized=True)
    await page.goto(f"{web_console.url}/settings?hotline={hotline_number}")
    await expect(page.locator("h1")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    await screenshot(page, "settings-full-phone")
    assert width <= 390, f"the settings page is {width} px wide on a 390 px screen"
    forward = page.locator("select[name=overflow] option[value=forward]")
    await expect(forward).to_be_disabled()
    await expect(page.locator("#forward-to")).to_contain_text("运营商")

    await db.execute("UPDATE hotlines SET overflow_forward_to = 'PJSIP/backup/sip:8000@10.0.0.1' "
                     "WHERE number = $1", hotline_number)
    await page.reload()
    await expect(forward).to_be_enabled()
    await expect(page.locator("#forward-to")).to_contain_text("PJSIP/backup/sip:8000@10.0.0.1")
    await page.context.close()

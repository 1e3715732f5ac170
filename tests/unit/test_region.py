"""Caller region from libphonenumber's Chinese geocoder data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router import region
from router.callers import normalise


@pytest.mark.parametrize(("caller", "described", "province_en", "city_en"), [
    ("02161234567", "上海市 021", "Shanghai", "Shanghai"),
    ("01062345678", "北京市 010", "Beijing", "Beijing"),
    ("13800138000", "北京市 010", "Beijing", "Beijing"),              # mobile 1380013
    ("+86 139 1234 5678", "江苏省常州市 0519", "Jiangsu", "Changzhou"),  # mobile 1391234
    ("075512345678", "广东省深圳市 0755", "Guangdong", "Shenzhen"),
    ("057188888888", "浙江省杭州市 0571", "Zhejiang", "Hangzhou"),
    ("09912345678", "新疆维吾尔自治区乌鲁木齐市 0991", "Xinjiang", "Urumqi"),
])
def test_lookup_by_area_code_and_mobile_prefix(caller: str, described: str, province_en: str,
                                               city_en: str) -> None:
    found = region.lookup(normalise(caller))
    assert found.describe() == described
    assert (found.province_en, found.city_en) == (province_en, city_en)


@pytest.mark.parametrize("caller", ["", "anonymous", "95588", "+14155550100", "garbage"])
def test_withheld_foreign_and_garbage_callers_are_unknown(caller: str) -> None:
    found = region.lookup(normalise(caller))
    assert found == region.UNKNOWN
    assert found.describe() == "unknown"
    assert not found.matches("上海")


@pytest.mark.parametrize(("caller", "wanted", "matches"), [
    ("02161234567", "上海", True),
    ("02161234567", "上海市", True),
    ("02161234567", "shanghai", True),
    ("02161234567", "021", True),
    ("02161234567", "21", True),
    ("02161234567", "北京", False),
    ("+86 139 1234 5678", "江苏", True),
    ("+86 139 1234 5678", "江苏省", True),
    ("+86 139 1234 5678", "常州", True),
    ("+86 139 1234 5678", "Jiangsu", True),
    ("+86 139 1234 5678", "0519", True),     # a mobile's home area code
    ("+86 139 1234 5678", "0510", False),
    ("07712345678", "广西", True),            # 广西壮族自治区
    ("07712345678", "崇左", True),            # one area code, two cities
    ("07712345678", "南宁", True),
    ("07712345678", "Chongzuo", True),        # English names of two cities: a slash
    ("07712345678", "nanning", True),
    ("07712345678", "Nanning/Chongzuo", False),
    ("07712345678", "Guangxi", True),
    ("07712345678", "0771", True),
    ("07712345678", "00771", True),
    ("07712345678", "", False),
    ("07712345678", "  ", False),
    ("13800138000", "Beijing", True),
    ("13800138000", "上海", False),
])
def test_rules_match_a_province_a_city_or_an_area_code(caller: str, wanted: str,
                                                       matches: bool) -> None:
    assert region.lookup(normalise(caller)).matches(wanted) is matches


@pytest.mark.parametrize(("caller", "found"), [
    # segments with no number type in libphonenumber, or known only as "China"
    ("14000000000", region.UNKNOWN),
    ("17400000000", region.UNKNOWN),
    ("03001234567", region.Region(area_code="0300")),  # no such area, its code as dialled
])
def test_numbers_the_geocoder_cannot_place(caller: str, found: region.Region) -> None:
    assert region.lookup(normalise(caller)) == found


def test_a_municipality_is_its_own_province_and_city() -> None:
    found = region.lookup(normalise("01062345678"))
    assert found == region.Region("北京市", "北京市", "Beijing", "Beijing", "010")


@pytest.mark.parametrize(("description", "province", "city"), [
    ("广东省广州市", "广东省", "广州市"),
    ("广东省", "广东省", ""),                 # a province, no city
    ("上海市", "上海市", "上海市"),           # a municipality names itself
    ("新疆维吾尔自治区乌鲁木齐市", "新疆维吾尔自治区", "乌鲁木齐市"),
    ("香港特别行政区", "香港特别行政区", ""),
    ("中国", "", ""),                         # the whole country: nowhere in particular
    ("", "", ""),
    ("上海\n市", "", ""),                    # words the pattern cannot read: no place
])
def test_the_geocoders_words_split_into_province_and_city(description: str, province: str,
                                                         city: str) -> None:
    assert region._split_zh(description) == (province, city)


def test_short_names_drop_the_administrative_suffix() -> None:
    assert region.short("江苏省") == "江苏"
    assert region.short("广西壮族自治区") == "广西"
    assert region.short("上海市") == "上海"
    assert region.short("市") == "市"
    assert region.short("内蒙古自治区") == "内蒙古"
    assert region.short("宁夏回族自治区") == "宁夏"
    assert region.short("新疆维吾尔自治区") == "新疆"
    assert region.short("香港特别行政区") == "香港"
    assert region.short("延边朝鲜族自治州") == "延边朝鲜族"
    assert region.short("大兴安岭地区") == "大兴安岭"
    assert region.short("锡林郭勒盟") == "锡林郭勒"
    assert region.short("Shanghai") == "Shanghai"


def test_warm_up_knows_the_area_code_of_hundreds_of_cities() -> None:
    assert region.warm_up() > 300


@settings(max_examples=200)
@given(st.from_regex(r"1[3-9][0-9]{9}|0[1-9][0-9]{9,10}", fullmatch=True))
def test_any_number_looks_up_without_error(number: str) -> None:
    found = region.lookup(normalise(number))
    assert found.known == bool(found.province or found.area_code)
    assert found.area_code == "" or found.area_code.startswith("0")


# --- names an admin types for a region rule ------------------------------------------------


@pytest.mark.parametrize("name", [
    "上海", "上海市", "Shanghai", "shanghai", " SHANGHAI ", "江苏", "江苏省", "Jiangsu", "常州",
    "常州市", "Changzhou", "广西", "广西壮族自治区", "南宁", "崇左", "021", "21", "0519", "519",
    "010"])
def test_a_place_a_caller_can_be_in_is_known(name: str) -> None:
    assert region.is_place(name)
    region.check_place(name)  # no error


@pytest.mark.parametrize("name", ["Shangai", "上海滩", "Atlantis", "0999", "999", "", "  ",
                                  "中国", "China", "0"])
def test_a_place_no_caller_can_be_in_is_refused_with_close_names(name: str) -> None:
    assert not region.is_place(name)
    with pytest.raises(ValueError, match=f"no region is called {name!r} in the region data"):
        region.check_place(name)


def test_a_typo_is_answered_with_the_names_it_resembles() -> None:
    assert region.similar_places("Shangai")[0] == "shanghai"
    assert region.similar_places("Shangai", limit=1) == ["shanghai"]
    assert region.similar_places("  Changzou ") [0] == "changzhou"
    assert region.similar_places("Atlantis") == []
    assert region.similar_places("Atlanta") == []  # altay is only 67 % alike: no guess
    assert len(region.similar_places("Shang")) == 3  # shanghai, shangrao, shangqiu, shangluo …
    with pytest.raises(ValueError, match=r"did you mean shanghai or .*\? give a province"):
        region.check_place("Shangai")
    with pytest.raises(ValueError, match="no region is called 'Atlantis'") as refused:
        region.check_place("Atlantis")
    assert str(refused.value).startswith(
        "no region is called 'Atlantis' in the region data; give a province")
    assert str(refused.value).endswith("e.g. 上海, Shanghai, 江苏, 常州, 021")


def test_the_known_places_are_what_rules_match() -> None:
    places = region.places()
    assert {"上海", "上海市", "shanghai", "江苏", "江苏省", "jiangsu", "南宁", "崇左",
            "南宁市"} <= places
    assert not {"", "中国", "china"} & places
    assert all(name == name.casefold() for name in places if name.isascii())
    assert len(places) > 500

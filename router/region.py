"""Where a caller is: province and city from an area code or a mobile prefix.

The data is Google libphonenumber's Chinese geocoder, as shipped by the
``phonenumbers`` package (Apache-2.0): landlines by area code, mobiles by
their first 7 digits (the number segment, 号段). A mobile's area code is the
one of its home city, found by geocoding every area code once
(:func:`warm_up`).

The package's geocoder holds the whole world (about 100 MB in memory); only
China's entries (+86, some 130,000 prefixes) are kept here, read once by a
short-lived child process, so a router's memory holds a few MB of them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import cache

import phonenumbers

from router.callers import CallerNumber

# What a child process prints: China's geocoder entries, descriptions shared.
_EXPORT = """
import json, sys
from phonenumbers import geodata
descriptions, prefixes = {}, {}
for prefix, names in geodata.GEOCODE_DATA.items():
    if prefix.startswith("86"):
        key = (names.get("zh", ""), names.get("en", ""))
        prefixes[prefix] = descriptions.setdefault(key, len(descriptions))
json.dump({"descriptions": list(descriptions), "prefixes": prefixes}, sys.stdout,
          ensure_ascii=False)
"""
_LANGUAGES = {"zh": 0, "en": 1}
_COUNTRY = {"zh": "中国", "en": "China"}


@dataclass(frozen=True)
class _Geodata:
    prefixes: dict[str, int]  # "86" + leading digits -> index into descriptions
    descriptions: list[tuple[str, str]]  # (zh, en)
    longest: int


@cache
def _china() -> _Geodata:
    """China's part of the geocoder data, read by a child process (see above)."""
    done = subprocess.run([sys.executable, "-c", _EXPORT], capture_output=True, check=True,
                          timeout=120)
    data = json.loads(done.stdout)
    prefixes = {sys.intern(p): i for p, i in data["prefixes"].items()}
    return _Geodata(prefixes, [(zh, en) for zh, en in data["descriptions"]],
                    max(map(len, prefixes), default=0))


def _describe(number: phonenumbers.PhoneNumber, language: str) -> str:
    """As phonenumbers' geocoder describes a Chinese number (longest prefix wins)."""
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.UNKNOWN:
        return ""
    geodata = _china()
    digits = f"{number.country_code}{phonenumbers.national_significant_number(number)}"
    for end in range(min(len(digits), geodata.longest), 0, -1):
        found = geodata.prefixes.get(digits[:end])
        if found is not None:
            description = geodata.descriptions[found][_LANGUAGES[language]]
            if description:
                return description
    return _COUNTRY[language]

# Province-level suffixes, longest first (广西壮族自治区 -> 广西).
_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "自治州",
             "地区", "省", "市", "盟")
_PROVINCE = re.compile(r"^(.+?(?:省|自治区|特别行政区))?(.+?)?$")


@dataclass(frozen=True)
class Region:
    """A caller's province and city, in Chinese and English, and area code.

    Municipalities (北京, 上海, 天津, 重庆) are their own province and city.
    Every field is '' when unknown.
    """

    province: str = ""
    city: str = ""
    province_en: str = ""
    city_en: str = ""
    area_code: str = ""

    @property
    def known(self) -> bool:
        return bool(self.province or self.area_code)

    def describe(self) -> str:
        """``江苏省常州市 0519``, ``上海市 021``, or ``unknown``."""
        if not self.known:
            return "unknown"
        place = self.province if self.province == self.city else self.province + self.city
        return " ".join(part for part in (place, self.area_code) if part)

    def matches(self, wanted: str) -> bool:
        """Is the caller in ``wanted``: a province, a city or an area code?

        Names match with or without their suffix (上海, 上海市, Shanghai,
        广西, 广西壮族自治区); area codes with or without the 0 (21, 021).
        """
        wanted = wanted.strip()
        if not wanted or not self.known:
            return False
        if wanted.isdigit():
            return bool(self.area_code) and self.area_code == "0" + wanted.lstrip("0")
        # Some area codes serve two cities: '南宁市、崇左市', 'Nanning/Chongzuo'.
        cities = [*self.city.split("、"), *(c.casefold() for c in self.city_en.split("/"))]
        names = {self.province, short(self.province), self.province_en.casefold(),
                 *cities, *(short(city) for city in cities)} - {""}
        return wanted.casefold() in names or short(wanted) in names


UNKNOWN = Region()


def short(name: str) -> str:
    """A place name without its administrative suffix: 江苏省 -> 江苏."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def lookup(caller: CallerNumber) -> Region:
    """The caller's region; UNKNOWN for withheld, foreign or unallocated numbers."""
    if caller.kind not in ("mobile", "landline"):
        return UNKNOWN
    try:
        parsed = phonenumbers.parse("+86" + caller.number.removeprefix("0"))
        zh = _describe(parsed, "zh")
        en = _describe(parsed, "en")
    except phonenumbers.NumberParseException:
        return Region(area_code=caller.area_code)
    province, city = _split_zh(zh)
    city_en, _, province_en = en.partition(", ")
    if not province_en:  # "Beijing": a municipality, or nothing useful
        province_en = city_en
    if not province:
        return Region(area_code=caller.area_code)
    area_code = caller.area_code or _area_codes().get(zh, "")
    return Region(province=province, city=city, province_en=province_en, city_en=city_en,
                  area_code=area_code)


def _split_zh(description: str) -> tuple[str, str]:
    """'江苏省常州市' -> ('江苏省', '常州市'); '上海市' -> ('上海市', '上海市')."""
    if not description or description == "中国":
        return "", ""
    found = _PROVINCE.match(description)
    province, city = (found.group(1) or "", found.group(2) or "") if found else ("", "")
    if not province:  # a municipality names itself
        return city, city
    return province, city


_lock = threading.Lock()


@cache
def _area_codes() -> dict[str, str]:
    """Geocoder description -> area code, from geocoding every Chinese area code."""
    found: dict[str, str] = {}
    codes = ["10", *(f"2{d}" for d in range(10)), *(str(n) for n in range(300, 1000))]
    for code in codes:
        for subscriber in ("62345678", "6234567", "82345678", "2345678"):
            if len(code) == 2 and len(subscriber) == 7:
                continue
            try:
                parsed = phonenumbers.parse(f"+86{code}{subscriber}")
            except phonenumbers.NumberParseException:
                continue
            description = _describe(parsed, "zh")
            if description and description != "中国":
                found.setdefault(description, "0" + code)
                break
    return found


def warm_up() -> int:
    """Load the geocoder data and the area-code table; returns the number of cities."""
    with _lock:
        lookup(CallerNumber("13800138000", "13800138000", "mobile"))
        return len(_area_codes())


@cache
def places() -> frozenset[str]:
    """Every name :meth:`Region.matches` can match, as it compares them: provinces and
    cities in Chinese with and without suffix, English names case-folded."""
    names: set[str] = set()
    for zh, en in _china().descriptions:
        province, city = _split_zh(zh)
        for name in (province, *city.split("、")):
            names |= {name, short(name)}
        city_en, _, province_en = en.partition(", ")
        names |= {c.casefold() for c in city_en.split("/")} | {province_en.casefold()}
    names -= {"", "中国", "china"}
    return frozenset(names)


def is_place(wanted: str) -> bool:
    """Could a caller ever be in ``wanted`` (a province, city or area code)?"""
    wanted = wanted.strip()
    if not wanted:
        return False
    if wanted.isdigit():  # an area code, with or without its 0
        return f"0{int(wanted)}" in set(_area_codes().values())
    known = places()
    return wanted.casefold() in known or short(wanted) in known


def similar_places(wanted: str, limit: int = 3) -> list[str]:
    """Names close to ``wanted`` (a typo's likely meaning), best first."""
    import difflib

    return difflib.get_close_matches(wanted.strip().casefold(), places(), n=limit, cutoff=0.7)


def check_place(wanted: str) -> None:
    """Raise ValueError, naming close matches, when no caller can ever be in ``wanted``."""
    if is_place(wanted):
        return
    close = similar_places(wanted)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ValueError(f"no region is called {wanted!r} in the region data; {hint}give a "
                     "province, city or area code, e.g. 上海, Shanghai, 江苏, 常州, 021")

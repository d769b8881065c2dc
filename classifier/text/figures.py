"""The figures a paragraph reports: how many cases, gangs, suspects, persons, vehicles, yuan.

`find_figures(text)` returns each reported quantity with its kind, value, unit, qualifier and
character span: "735 criminal cases", "21 criminal gangs … were destroyed", "1,461 criminal
suspects", "1,050 illegal entry and exit personnel were intercepted", 侦办案件1.6万余起,
抓获犯罪嫌疑人2.4万余名, 打掉偷渡团伙近900个, 遣返0.8万人. Numbers are read with English
thousands separators, decimals, 万/亿 and million/billion multipliers and Chinese numerals
(一千二百); "more than"/over/nearly/余/逾/近/多 are kept as the qualifier; percentages and
year-on-year changes (同比上升12%, "up 15 percent") are `change` figures, not counts. Years,
dates, ages and list numbers are not figures.

Kinds: `cases`, `gangs`, `dens`, `suspects` (persons arrested), `persons_intercepted`
(stopped, seized, apprehended at ports and borders), `persons_inspected`, `returned`
(repatriated, handed over, fugitives brought back), `foreigners` (三非), `vehicles_vessels`,
`money`, `items`, `change`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import fold

__all__ = ["Figure", "KINDS", "find_figures", "parse_number"]

KINDS = ("cases", "gangs", "dens", "suspects", "persons_intercepted", "persons_inspected", "returned",
         "foreigners", "vehicles_vessels", "money", "items", "change")


@dataclass(frozen=True)
class Figure:
    """One reported quantity; `start`/`end` index the original text."""

    kind: str
    value: float
    unit: str
    qualifier: str  # "", "more than", "about", "nearly", "up to"
    start: int
    end: int
    text: str


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}


_EN_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_EN_WORDS.update({"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "dozens": 24, "hundreds": 200})


def parse_number(text: str) -> float | None:
    """"1,461", "1.67", "一千二百", "十二", "two" → a number; None when it is not one."""
    text = text.replace(",", "").replace("，", "").strip()
    if text.lower() in _EN_WORDS and text.lower() not in ("dozens", "hundreds"):
        return float(_EN_WORDS[text.lower()])
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not text or any(ch not in _ZH_DIGITS and ch not in _ZH_UNITS for ch in text):
        return None
    total, digit = 0, 0
    for ch in text:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        else:
            total += (digit or 1) * _ZH_UNITS[ch]
            digit = 0
    return float(total + digit)


_MULTIPLIERS = {"万": 1e4, "亿": 1e8, "million": 1e6, "billion": 1e9, "thousand": 1e3}
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_EN_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_ZH_NUM = r"[零〇一二两三四五六七八九十百千]{1,6}"

# -- Chinese: a number, its multiplier and measure word; the kind comes from the clause before it
_ZH_FIGURE = re.compile(
    rf"(?P<qual>逾|超过|超|近|约|共|计)?(?P<num>{_NUM}|{_ZH_NUM})(?P<more0>余|多)?(?P<mult>万|亿)?(?P<more>余|多)?"
    r"(?P<unit>起|宗|件|个|名|人次|人|辆|艘|台|元|条|份|本|公斤|千克|吨|只)"
)
_ZH_CLAUSE_KINDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # (kind, words in the clause before the number, measure words it takes)
    ("foreigners", ("三非", "外国人"), "名人次"),
    ("returned", ("遣返", "押解", "缉捕", "移交", "劝返", "逃犯", "潜逃"), "名人"),
    ("suspects", ("犯罪嫌疑人", "嫌疑人", "抓获", "蛇头", "刑拘", "逮捕", "拘捕", "被捕", "落案", "控以"), "名人"),
    ("persons_inspected", ("查验",), "人次名人"),
    ("persons_intercepted", ("查获", "拦截", "劝阻", "阻止", "截获", "查处", "偷渡", "偷越"), "名人次"),
    ("gangs", ("团伙", "网络", "链条", "团队", "平台", "钱庄", "打掉", "摧毁", "捣毁"), "个条"),
    ("dens", ("窝点",), "个处"),
    ("cases", ("案件", "案", "刑事"), "起宗件"),
    ("vehicles_vessels", ("车", "船", "艇"), "辆艘台"),
    ("money", ("涉案", "金额", "资金", "价值", "罚款"), "元"),
    ("items", ("证件", "护照", "物品", "信息", "线索", "查获"), "本份件条公斤千克吨只"),
)
_ZH_FOLLOWING = {"团伙": "gangs", "窝点": "dens", "案件": "cases", "犯罪嫌疑人": "suspects", "快艇": "vehicles_vessels",
                 "车辆": "vehicles_vessels"}
_ZH_CHANGE = re.compile(rf"(?P<dir>同比上升|同比下降|同比增长|同比减少|上升|下降|增长|减少|提高|降低)(?P<num>{_NUM})\s*(?:%|％|个百分点)")

# -- English: a number, then a noun phrase whose head names the kind
_EN_FIGURE = re.compile(
    rf"(?P<qual>more than|over|nearly|almost|about|around|approximately|at least|some|up to)?\s*"
    rf"(?<![\w.,-])(?P<num>{_EN_NUM})(?!\s*(?:%|percent|per cent|years? old|-year-old))\s*(?P<mult>million|billion|thousand)?"
    r"(?P<gap>(?:\s+(?!(?:in|at|on|from|to|for|of|with|by|were|was|have|has|had)\b)(?!\d)[\w\"'“”’()-]+){0,6}?)\s+"
    r"[\"“'‘]?(?P<head>criminal cases|cases|gangs|networks|rings|groups|dens|hideouts|criminal suspects|suspects|"
    r"snakeheads|smugglers|fugitives|fugitive targets|foreigners|foreign nationals|illegal immigrants|immigrants|"
    r"migrants|personnel|people|persons|individuals|travell?ers|passengers|vehicles|vessels|boats|ships|yuan|"
    r"pieces of information|items|passports|documents|seals|phones|smartphones|computers|bottles|cards|"
    r"locations|premises|flats|violations|offences|offenses|"
    r"case|gang|den|suspect|fugitive|vehicle|vessel|boat)\b"
    r"(?=(?P<after>[^.;:!?]{0,60}))",
    re.I,
)
_EN_CHANGE = re.compile(
    rf"(?P<dir>up|down|rose|fell|increased|decreased|dropped|grew|declined)\s+(?:by\s+)?(?P<num>{_NUM})\s*(?:%|percent|per cent)",
    re.I,
)
_EN_HEADS = {
    "cases": "cases", "case": "cases", "criminal cases": "cases",
    "gangs": "gangs", "gang": "gangs", "networks": "gangs", "rings": "gangs", "groups": "gangs",
    "dens": "dens", "den": "dens", "hideouts": "dens",
    "criminal suspects": "suspects", "suspects": "suspects", "suspect": "suspects", "snakeheads": "suspects",
    "smugglers": "suspects",
    "fugitives": "returned", "fugitive": "returned", "fugitive targets": "returned",
    "foreigners": "foreigners", "foreign nationals": "foreigners",
    "vehicles": "vehicles_vessels", "vehicle": "vehicles_vessels", "vessels": "vehicles_vessels",
    "vessel": "vehicles_vessels", "boats": "vehicles_vessels", "boat": "vehicles_vessels", "ships": "vehicles_vessels",
    "yuan": "money",
    "pieces of information": "items", "items": "items", "passports": "items", "documents": "items",
    "seals": "items", "phones": "items", "smartphones": "items", "computers": "items", "bottles": "items",
    "cards": "items", "violations": "cases", "offences": "cases", "offenses": "cases",
}
_EN_PLACES = ("locations", "premises", "flats")  # dens when raided or searched
_EN_PERSONS = ("illegal immigrants", "immigrants", "migrants", "personnel", "people", "persons", "individuals",
               "travellers", "travelers", "passengers")
_EN_VERBS = (
    ("returned", r"repatriat|returned|handed over|extradit|deport|brought back|escorted back"),
    ("suspects", r"arrest|detain|captur|apprehended? .*suspect|nabbed|held"),
    ("persons_intercepted", r"intercept|seiz|stopp|apprehend|caught|blocked|prevented|turned back|refused"),
    ("persons_inspected", r"inspect|check|screen|cleared"),
)
_NOT_A_COUNT = re.compile(r"^(?:19|20)\d\d$")  # a year


def _value(num: str, mult: str | None) -> float | None:
    value = parse_number(num)
    if value is None:
        return None
    return value * _MULTIPLIERS.get((mult or "").lower(), 1.0)


def _zh_kind(clause: str, unit: str, following: str) -> str | None:
    for word, kind in _ZH_FOLLOWING.items():
        if following.startswith(word):
            return kind
    if unit in "起宗" and "案" in following[:12]:  # 侦破两起…偷渡案
        return "cases"
    if unit == "台" and "车" in following[:4]:
        return "vehicles_vessels"
    if unit == "元":
        return "money"
    if unit in ("辆", "艘"):
        return "vehicles_vessels"
    for kind, words, units in _ZH_CLAUSE_KINDS:
        if unit in units and any(word in clause for word in words):
            return kind
    return None


def _en_kind(head: str, after: str, before: str) -> str | None:
    """The kind of a figure: its head noun, or for persons the verb after it ("… were
    intercepted"), else the verb before it in the same clause ("the arrest of …")."""
    head = head.lower()
    if head in _EN_HEADS:
        return _EN_HEADS[head]
    if head in _EN_PLACES:
        return "dens" if re.search(r"raid|search|seal|storm|bust", before, re.I) else None
    if head in _EN_PERSONS:
        passive = _PASSIVE.match(after)
        if passive:
            for kind, verbs in _EN_VERBS:
                if re.match(verbs, passive.group(1), re.I):
                    return kind
        hits = [(m.start(), kind) for kind, verbs in _EN_VERBS for m in re.finditer(verbs, before, re.I)]
        if hits:
            return max(hits)[1]  # the verb nearest the number
    return None


_PASSIVE = re.compile(r"^[^,;]{0,40}?\b(?:were|was|have been|has been|had been|being|got)\s+(?:\w+ly\s+)?(\w+)", re.I)


_QUALIFIERS = {"more than": "more than", "over": "more than", "at least": "more than", "逾": "more than",
               "超过": "more than", "超": "more than", "nearly": "nearly", "almost": "nearly", "近": "nearly",
               "about": "about", "around": "about", "approximately": "about", "some": "about", "约": "about",
               "up to": "up to"}


def find_figures(text: str) -> list[Figure]:
    """Every reported quantity in `text`, in order (see the module docstring for the kinds)."""
    folded = fold(text) if len(fold(text)) == len(text) else text  # spans stay on the original text
    out: list[Figure] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, value: float, unit: str, qualifier: str, start: int, end: int) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        out.append(Figure(kind, value, unit, qualifier, start, end, text[start:end]))

    for m in _ZH_CHANGE.finditer(folded):
        sign = -1.0 if any(w in m.group("dir") for w in ("下降", "减少", "降低")) else 1.0
        add("change", sign * float(m.group("num").replace(",", "")), "%", "", m.start(), m.end())
    for m in _EN_CHANGE.finditer(text):
        sign = -1.0 if m.group("dir").lower() in ("down", "fell", "decreased", "dropped", "declined") else 1.0
        add("change", sign * float(m.group("num").replace(",", "")), "%", "", m.start(), m.end())
    for m in _ZH_FIGURE.finditer(folded):
        num, unit = m.group("num"), m.group("unit")
        if _NOT_A_COUNT.match(num) and unit in ("年",):
            continue
        value = _value(num, m.group("mult"))
        if value is None:
            continue
        clause_start = max(folded.rfind(p, 0, m.start()) for p in "，。；：,;:\n")
        clause = folded[clause_start + 1:m.start()]
        kind = _zh_kind(clause, unit, folded[m.end():m.end() + 6])
        if kind is None:
            continue
        qualifier = _QUALIFIERS.get(m.group("qual") or "", "") or (
            "more than" if m.group("more") or m.group("more0") else "")
        add(kind, value, ("元" if unit == "元" else unit), qualifier, m.start("qual") if m.group("qual") else m.start("num"),
            m.end())
    for m in _EN_FIGURE.finditer(text):
        num = m.group("num")
        if _NOT_A_COUNT.match(num) and not m.group("mult"):
            continue
        value = _value(num, m.group("mult"))
        if value is None:
            continue
        before = re.split(r"[,;:.]", text[max(0, m.start() - 80):m.start()])[-1]
        kind = _en_kind(m.group("head"), m.group("gap") + " " + m.group("after"), before)
        if kind is None:
            continue
        qualifier = _QUALIFIERS.get((m.group("qual") or "").lower(), "")
        start = m.start("qual") if m.group("qual") else m.start("num")
        add(kind, value, m.group("head").lower(), qualifier, start, m.end("head"))
    return sorted(out, key=lambda f: f.start)


def score_figures(gold: list[tuple[str, list[tuple[str, float, str]]]]) -> dict[str, dict[str, float | int]]:
    """Precision and recall of `find_figures` per kind on hand-labelled paragraphs.

    `gold`: `(text, [(kind, value, qualifier), ...])` per paragraph. A found figure is right when
    its kind and value match a gold figure of the paragraph (each gold figure matches once);
    `qualifier_right` counts the matched ones whose qualifier also agrees. Kinds with no gold and
    no prediction are left out; `all` pools every kind.
    """
    counts: dict[str, dict[str, int]] = {}

    def bump(kind: str, key: str) -> None:
        for name in (kind, "all"):
            counts.setdefault(name, {"tp": 0, "fp": 0, "fn": 0, "qualifier_right": 0})[key] += 1

    for text, expected in gold:
        left = list(expected)
        for figure in find_figures(text):
            hit = next((g for g in left if g[0] == figure.kind and abs(g[1] - figure.value) < 1e-6), None)
            if hit is None:
                bump(figure.kind, "fp")
                continue
            left.remove(hit)
            bump(figure.kind, "tp")
            if hit[2] == figure.qualifier:
                bump(figure.kind, "qualifier_right")
        for kind, _, _ in left:
            bump(kind, "fn")
    out: dict[str, dict[str, float | int]] = {}
    for kind in [*KINDS, "all"]:
        if kind not in counts:
            continue
        c = counts[kind]
        out[kind] = {**c, "gold": c["tp"] + c["fn"], "found": c["tp"] + c["fp"],
                     "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0,
                     "recall": c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0}
    return out

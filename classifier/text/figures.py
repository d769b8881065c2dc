"""The figures a paragraph reports: how many cases, gangs, suspects, persons, vehicles, yuan.

`find_figures(text)` returns each reported quantity with its kind, value, unit, qualifier and
character span: "735 criminal cases", "21 criminal gangs … were destroyed", "1,461 criminal
suspects", "1,050 illegal entry and exit personnel were intercepted", 侦办案件1.6万余起,
抓获犯罪嫌疑人2.4万余名, 打掉偷渡团伙近900个, 遣返0.8万人. Numbers are read with English
thousands separators, decimals, 万/亿 and million/billion multipliers and Chinese numerals
(一千二百, 两千, 廿五); "more than"/over/nearly/余/逾/近/多/以上/左右 are kept as the qualifier and a
range (3至5起, "10 to 15 cases") is its lower bound with the qualifier "range"; percentages and
year-on-year changes (同比上升12%, "up 15 percent") are `change` figures, not counts. Breakdowns (其中…175名, "including 2 snakeheads", "47 of whom") take the kind of the
figure they break down. Years, dates, ages, list numbers and a "一名男子" that only introduces a
person in a story are not figures. `docs/figures-guideline.md` is the labelling rule these follow.

Kinds: `cases`, `gangs`, `dens`, `suspects` (persons arrested), `persons_intercepted`
(stopped, seized, apprehended at ports and borders), `persons_inspected`, `returned`
(repatriated, handed over, fugitives brought back), `foreigners` (三非), `vehicles_vessels`,
`money`, `items`, `change`.

`score_figures` measures the extractor against hand-labelled paragraphs and `figure_agreement`
two annotators against each other, with the same matching rule (kind and value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .normalize import fold

__all__ = ["KINDS", "Figure", "figure_agreement", "find_figures", "parse_number", "score_figures"]

KINDS = ("cases", "gangs", "dens", "suspects", "persons_intercepted", "persons_inspected", "returned",
         "foreigners", "vehicles_vessels", "money", "items", "change")
_PERSON_KINDS = ("suspects", "persons_intercepted", "persons_inspected", "returned", "foreigners")


@dataclass(frozen=True)
class Figure:
    """One reported quantity; `start`/`end` index the original text."""

    kind: str
    value: float
    unit: str
    qualifier: str  # "", "more than", "about", "nearly", "up to", "range"
    start: int
    end: int
    text: str


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_TENS = {"廿": "二十", "卅": "三十", "卌": "四十"}

_EN_WORDS = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                         "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                                         "seventeen", "eighteen", "nineteen"])}
_EN_WORDS.update({"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                  "ninety": 90, "hundred": 100})


def parse_number(text: str) -> float | None:
    """"1,461", "1.67", "一千二百", "十二", "廿五", "two" → a number; None when it is not one."""
    text = text.replace(",", "").replace("，", "").strip()
    if text.lower() in _EN_WORDS:
        return float(_EN_WORDS[text.lower()])
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    for tens, spelled in _ZH_TENS.items():
        text = text.replace(tens, spelled)
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
_EN_SPELLED = ("two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
               "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety")
_EN_NUM = rf"(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?|(?:{_EN_SPELLED})\b"
_ZH_NUM = r"[零〇一二两三四五六七八九十百千廿卅]{1,6}"

# -- Chinese: a number (or a range), its multiplier and measure word; the kind comes from the words around it
_ZH_FIGURE = re.compile(
    rf"(?P<qual>将近|超过|逾|超|近|约|共|计)?(?P<num>{_NUM}|{_ZH_NUM})"
    rf"(?:(?:至|到|~|-|—|－)(?P<num2>{_NUM}|{_ZH_NUM}))?(?P<more0>余|多)?(?P<mult>万|亿)?(?P<more>余|多)?"
    r"(?P<unit>起|宗|件|个|名|人次|人|辆|艘|台|元|条|份|本|张|处|公斤|千克|吨|只)(?P<after>以上|左右)?"
)
_ZH_RETURNED = ("遣返", "押解", "缉捕", "移交", "劝返", "逃犯", "潜逃", "遣送")
_ZH_CLAUSE_KINDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # (kind, words in the clause before the number, measure words it takes); the word nearest the number wins
    ("foreigners", ("三非", "外国人", "外籍"), "名人次"),
    ("returned", _ZH_RETURNED, "名人"),
    ("suspects", ("犯罪嫌疑人", "嫌疑人", "嫌犯", "抓获", "抓捕", "蛇头", "刑拘", "逮捕", "拘捕", "被捕", "落案", "控以",
                  "起诉", "组织者", "主犯", "骨干"), "名人"),
    ("persons_inspected", ("查验",), "人次名人"),
    ("persons_intercepted", ("查获", "拦截", "劝阻", "阻止", "截获", "查处", "偷渡", "偷越", "非法出入境", "非法入境",
                             "拒绝入境"), "名人次"),
    ("gangs", ("团伙", "集团", "网络", "链条", "团队", "平台", "钱庄", "打掉", "摧毁", "捣毁", "瓦解"), "个条"),
    ("dens", ("窝点", "据点"), "个处"),
    ("cases", ("案件", "案", "刑事"), "起宗件"),
    ("vehicles_vessels", ("车", "船", "艇"), "辆艘台"),
    ("money", ("涉案", "金额", "资金", "价值", "罚款"), "元"),
    ("items", ("证件", "护照", "身份证", "物品", "信息", "线索", "查获", "检获", "起获", "缴获", "伪造"), "本份件条张公斤千克吨只"),
)
_ZH_FOLLOWING = {"团伙": "gangs", "犯罪团伙": "gangs", "窝点": "dens", "案件": "cases", "犯罪嫌疑人": "suspects",
                 "嫌疑人": "suspects", "蛇头": "suspects", "快艇": "vehicles_vessels", "车辆": "vehicles_vessels",
                 "住宅": "dens", "单位": "dens"}
_ZH_PASSIVE = re.compile(r"^[^，。；：,;:]{0,16}?(?:被捕|被拘|被刑拘|被抓获|落案|被控|被起诉|被检控)")
_ZH_BREAKDOWN = re.compile(r"其中|包括|中有|内含|内有")
_ZH_RESULT_VERB = re.compile(r"(?:破获|侦破|侦办|查破|查处|打掉|摧毁|捣毁|瓦解|抓获|查获|拘捕|逮捕|查扣|缴获|截获|起获|"
                             r"检获|破获了|侦破了|瓦解了)$|[、及和与]$")
_ZH_FOREIGN = re.compile(r"(?<!中国)(?<!本国)籍")
_ZH_CHANGE = re.compile(rf"(?P<dir>同比上升|同比下降|同比增长|同比减少|上升|下降|增长|减少|提高|降低|增加)(?P<num>{_NUM})\s*"
                        r"(?P<unit>%|％|个百分点)(?P<after>以上|左右)?")
_ZH_DOWN = ("下降", "减少", "降低")

# -- English: a number, then a noun phrase whose head names the kind
_EN_FIGURE = re.compile(
    rf"(?P<qual>more than|over|nearly|almost|close to|about|around|approximately|roughly|at least|some|up to)?\s*"
    rf"(?<![\w.,$-])(?P<num>{_EN_NUM})(?:\s*(?:to|-|–)\s*(?P<num2>{_EN_NUM}))?"
    r"(?!\s*(?:%|percent|per cent|years? old|-year-old))\s*(?P<mult>million|billion|thousand)?"
    r"(?P<gap>(?:\s+(?!(?:in|at|on|from|to|for|of|with|by|were|was|have|has|had|gangs?|cases?|people|persons|"
    r"suspects?|yuan)\b)(?!\d)[\w\"'“”’()-]+){0,6}?)\s+"
    r"[\"“'‘]?(?P<head>criminal cases|cases|gangs|networks|rings|groups|syndicates|dens|hideouts|criminal suspects|"
    r"suspects|snakeheads|smugglers|fugitives|fugitive targets|foreigners|foreign nationals|foreign workers|"
    r"illegal immigrants|immigrants|migrants|personnel|people|persons|individuals|travell?ers|passengers|"
    r"vehicles|vessels|boats|ships|yuan|renminbi|dollars|patacas|pieces of information|items|passports|documents|"
    r"seals|phones|smartphones|computers|bottles|cards|locations|premises|flats|violations|offences|offenses|"
    r"case|gang|syndicate|den|suspect|fugitive|vehicle|vessel|boat)\b(?!\s+(?:members?|leaders?|bosses|properties|"
    r"assets|accounts|base)\b)"
    r"(?=(?P<after>[^.;:!?]{0,60}))",
    re.IGNORECASE,
)
_EN_MONEY = re.compile(
    rf"(?P<qual>more than|over|nearly|almost|about|around|approximately|some|up to)?\s*"
    rf"(?<![\w.])(?P<cur>HK\$|US\$|NT\$|MOP\$?|RMB|CNY|¥|\$)\s?(?P<num>{_NUM})(?:\s*(?P<mult>million|billion|thousand))?"
    rf"(?:\s*(?:to|-|–)\s*(?:HK\$|US\$|NT\$|MOP\$?|RMB|CNY|¥|\$)?\s?(?P<num2>{_NUM})\s*(?:million|billion|thousand)?)?",
    re.IGNORECASE,
)
_EN_LEGAL_LIMIT = re.compile(r"(?:up to|maximum(?: fine)?(?: of)?|liable to(?: a fine of)?|not exceeding|a fine of)\s*$", re.IGNORECASE)
_EN_CHANGE = re.compile(
    rf"(?P<dir>up|down|rose|fell|increased|decreased|dropped|grew|declined|decreasing|increasing|falling|rising|"
    rf"growing|declining|dropping|a rise of|a drop of|an increase of|a decrease of|a fall of)\s+(?:by\s+)?"
    rf"(?P<num>{_NUM})\s*(?:%|percent|per cent)"
    rf"|(?P<num_b>{_NUM})\s*(?:%|percent|per cent)\s+(?:(?:year-on-year|year on year)\s+)?"
    r"(?P<dir_b>more|less|higher|lower|up|down|increase|decrease|rise|drop|fall|decline)\b",
    re.IGNORECASE,
)
_EN_DOWN = ("down", "fell", "decreased", "dropped", "declined", "decreasing", "falling", "declining", "dropping",
            "a drop of", "a decrease of", "a fall of", "less", "lower", "decrease", "drop", "fall", "decline")
_EN_BREAKDOWN = re.compile(rf"(?<![\w.,$-])(?P<num>{_EN_NUM})\s+of\s+(?:them|whom|those)\b"
                           rf"|\bincluding\s+(?P<num_b>{_EN_NUM})(?!\s*(?:%|percent|per cent))\b", re.IGNORECASE)
_EN_HEADS = {
    "cases": "cases", "case": "cases", "criminal cases": "cases",
    "gangs": "gangs", "gang": "gangs", "networks": "gangs", "rings": "gangs", "groups": "gangs",
    "syndicates": "gangs", "syndicate": "gangs",
    "dens": "dens", "den": "dens", "hideouts": "dens",
    "criminal suspects": "suspects", "suspects": "suspects", "suspect": "suspects", "snakeheads": "suspects",
    "smugglers": "suspects",
    "fugitives": "returned", "fugitive": "returned", "fugitive targets": "returned",
    "foreigners": "foreigners", "foreign nationals": "foreigners", "foreign workers": "foreigners",
    "vehicles": "vehicles_vessels", "vehicle": "vehicles_vessels", "vessels": "vehicles_vessels",
    "vessel": "vehicles_vessels", "boats": "vehicles_vessels", "boat": "vehicles_vessels", "ships": "vehicles_vessels",
    "yuan": "money", "renminbi": "money", "dollars": "money", "patacas": "money",
    "pieces of information": "items", "items": "items", "passports": "items", "documents": "items",
    "seals": "items", "phones": "items", "smartphones": "items", "computers": "items", "bottles": "items",
    "cards": "items", "violations": "cases", "offences": "cases", "offenses": "cases",
}
_EN_PLACES = ("locations", "premises", "flats")  # dens when raided or searched
_EN_PERSONS = ("illegal immigrants", "immigrants", "migrants", "personnel", "people", "persons", "individuals",
               "travellers", "travelers", "passengers")
_EN_VERBS = (
    ("returned", r"repatriat|returned|handed over|extradit|deport|brought back|escorted back"),
    ("suspects", r"arrest|detain|captur|apprehended? .*suspect|nabbed|held|charged|prosecuted|jailed|convicted"),
    ("persons_intercepted", r"intercept|seiz|stopp|apprehend|caught|blocked|prevented|turned back|refused"),
    ("persons_inspected", r"inspect|check|screen|cleared"),
)
_PASSIVE = re.compile(r"^[^,;]{0,40}?\b(?:were|was|have been|has been|had been|being|got)\s+(?:\w+ly\s+)?(\w+)", re.IGNORECASE)
_NOT_A_COUNT = re.compile(r"^(?:19|20)\d\d$")  # a year

_QUALIFIERS = {"more than": "more than", "over": "more than", "at least": "more than", "逾": "more than",
               "超过": "more than", "超": "more than", "以上": "more than", "nearly": "nearly", "almost": "nearly",
               "close to": "nearly", "近": "nearly", "将近": "nearly", "about": "about", "around": "about",
               "approximately": "about", "roughly": "about", "some": "about", "约": "about", "左右": "about",
               "up to": "up to"}


def _value(num: str, mult: str | None) -> float | None:
    value = parse_number(num)
    if value is None:
        return None
    return value * _MULTIPLIERS.get((mult or "").lower(), 1.0)


def _nearest_kind(clause: str, unit: str) -> str | None:
    """The kind whose clue word stands nearest before the number (and takes its measure word)."""
    best: tuple[int, str] | None = None
    for kind, words, units in _ZH_CLAUSE_KINDS:
        if unit not in units:
            continue
        for word in words:
            at = clause.rfind(word)
            if at >= 0 and (best is None or at + len(word) > best[0]):
                best = (at + len(word), kind)
    return best[1] if best else None


def _zh_kind(clause: str, phrase: str, unit: str, following: str) -> str | None:
    for word, kind in sorted(_ZH_FOLLOWING.items(), key=lambda item: -len(item[0])):
        if following.startswith(word) and (kind != "dens" or unit in "个处"):
            return kind
    if unit in "起宗" and "案" in following[:12]:  # 侦破两起…偷渡案
        return "cases"
    if unit == "台" and "车" in following[:4]:
        return "vehicles_vessels"
    if unit == "元":
        return "money"
    if unit in ("辆", "艘"):
        return "vehicles_vessels"
    if unit in "名人" and _ZH_PASSIVE.match(following):  # 兩名男子已被落案控以…
        return "suspects"
    if unit in "名人" and any(w in clause for w in _ZH_RETURNED):  # 遣返…非法入境人员: the verb decides
        return "returned"
    if unit in "名人次" and (_ZH_FOREIGN.search(phrase) or any(w in phrase for w in ("外国人", "外籍", "三非"))) \
            and not any(w in phrase for w in ("中国籍", "蛇头", "组织者")):
        return "foreigners"
    return _nearest_kind(clause, unit)


def _en_kind(head: str, after: str, before: str) -> str | None:
    """The kind of a figure: its head noun, or for persons the verb after it ("… were
    intercepted"), else the verb before it in the same clause ("the arrest of …")."""
    head = head.lower()
    if head in _EN_HEADS:
        return _EN_HEADS[head]
    if head in _EN_PLACES:
        return "dens" if re.search(r"raid|search|seal|storm|bust", before, re.IGNORECASE) else None
    if head in _EN_PERSONS:
        return _en_person_kind(after, before)
    return None


def _en_person_kind(after: str, before: str) -> str | None:
    passive = _PASSIVE.match(after)
    if passive:
        for kind, verbs in _EN_VERBS:
            if re.match(verbs, passive.group(1), re.IGNORECASE):
                return kind
    hits = [(m.start(), kind) for kind, verbs in _EN_VERBS for m in re.finditer(verbs, before, re.IGNORECASE)]
    return max(hits)[1] if hits else None  # the verb nearest the number


class _Found:
    """The figures found so far in one text, kept apart from overlapping matches."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.figures: list[Figure] = []

    def add(self, kind: str, value: float, unit: str, qualifier: str, start: int, end: int) -> None:
        if any(start < f.end and f.start < end for f in self.figures):
            return
        self.figures.append(Figure(kind, value, unit, qualifier, start, end, self.text[start:end]))

    def free(self, start: int, end: int) -> bool:
        return not any(start < f.end and f.start < end for f in self.figures)

    def previous(self, before: int, sentence_start: int, kinds: Sequence[str] = _PERSON_KINDS) -> Figure | None:
        """The nearest figure of one of `kinds` between `sentence_start` and `before`."""
        earlier = [f for f in self.figures if sentence_start <= f.start and f.end <= before and f.kind in kinds]
        return max(earlier, key=lambda f: f.start) if earlier else None


def _qualifier(*words: str | None, ranged: bool = False) -> str:
    if ranged:
        return "range"
    return next((_QUALIFIERS[w.lower()] for w in words if w and w.lower() in _QUALIFIERS), "")


def _changes(text: str, folded: str, found: _Found) -> None:
    for m in _ZH_CHANGE.finditer(folded):
        sign = -1.0 if any(w in m.group("dir") for w in _ZH_DOWN) else 1.0
        found.add("change", sign * float(m.group("num").replace(",", "")), "%", _qualifier(m.group("after")), m.start(), m.end())
    for m in _EN_CHANGE.finditer(text):
        direction = (m.group("dir") or m.group("dir_b")).lower()
        sign = -1.0 if direction in _EN_DOWN else 1.0
        found.add("change", sign * float((m.group("num") or m.group("num_b")).replace(",", "")), "%", "", m.start(),
                  m.end())


def _chinese(folded: str, found: _Found) -> None:
    for m in _ZH_FIGURE.finditer(folded):
        num, unit = m.group("num"), m.group("unit")
        value = _value(num, m.group("mult"))
        if value is None:
            continue
        before = folded[:m.start()]
        if num == "一" and not m.group("qual") and not _ZH_RESULT_VERB.search(before[-4:]):
            continue  # 一名男子, 一艘快艇, 一起: a story's article, not a count
        clause_start = max(folded.rfind(p, 0, m.start()) for p in "，。；：,;:\n")
        phrase_start = max(clause_start, folded.rfind("、", 0, m.start()))
        sentence_start = max(folded.rfind(p, 0, m.start()) for p in "。；;\n!?！？") + 1
        clause, phrase = folded[clause_start + 1:m.start()], folded[phrase_start + 1:m.start()]
        following = folded[m.end():m.end() + 12]
        kind = None
        if unit in "名人" and _ZH_BREAKDOWN.search(folded[sentence_start:m.start()]):
            total = found.previous(m.start(), sentence_start)
            kind = total.kind if total else None
        kind = kind or _zh_kind(clause, phrase, unit, following)
        if kind is None:
            continue
        qualifier = _qualifier(m.group("qual"), m.group("after"), ranged=bool(m.group("num2"))) or (
            "more than" if m.group("more") or m.group("more0") else "")
        found.add(kind, value, unit, qualifier, m.start("qual") if m.group("qual") else m.start("num"), m.end())


def _english(text: str, found: _Found) -> None:
    for m in _EN_MONEY.finditer(text):
        value = _value(m.group("num"), m.group("mult"))
        start = m.start("qual") if m.group("qual") else m.start("cur")
        if value is None or _EN_LEGAL_LIMIT.search(text[max(0, start - 40):start]):
            continue
        found.add("money", value, m.group("cur"), _qualifier(m.group("qual"), ranged=bool(m.group("num2"))), start,
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
        start = m.start("qual") if m.group("qual") else m.start("num")
        if kind in _PERSON_KINDS and re.search(r"\b(?:including|of whom|among them)\s*$", text[:start], re.IGNORECASE):
            total = found.previous(start, max(text.rfind(p, 0, start) for p in ".;!?\n") + 1)
            kind = total.kind if total else kind  # a breakdown counts what its total counts
        found.add(kind, value, m.group("head").lower(), _qualifier(m.group("qual"), ranged=bool(m.group("num2"))),
                  start, m.end("head"))
    for m in _EN_BREAKDOWN.finditer(text):  # "47 of whom were caught", "including three also suspected"
        group = "num" if m.group("num") else "num_b"
        if not found.free(m.start(group), m.end(group)):
            continue
        value = _value(m.group(group), None)
        sentence_start = max(text.rfind(p, 0, m.start()) for p in ".;!?\n") + 1
        kind = _en_person_kind(text[m.end():m.end() + 60], "") if group == "num" else None
        total = found.previous(m.start(), sentence_start, _PERSON_KINDS if kind is None else ())
        kind = kind or (total.kind if total else None)
        if kind is not None and value is not None:
            found.add(kind, value, "", "", m.start(group), m.end())


def find_figures(text: str) -> list[Figure]:
    """Every reported quantity in `text`, in order (see the module docstring for the kinds)."""
    folded = fold(text) if len(fold(text)) == len(text) else text  # spans stay on the original text
    found = _Found(text)
    _changes(text, folded, found)
    _chinese(folded, found)
    _english(text, found)
    return sorted(found.figures, key=lambda f: f.start)


_Gold = Sequence[tuple[str, float, str]]


def _match(left: list[tuple[str, float, str]], kind: str, value: float) -> tuple[str, float, str] | None:
    return next((g for g in left if g[0] == kind and abs(g[1] - value) < 1e-6), None)


def _rates(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for kind in [*KINDS, "all"]:
        if kind not in counts:
            continue
        c = counts[kind]
        out[kind] = {**c, "gold": c["tp"] + c["fn"], "found": c["tp"] + c["fp"],
                     "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0,
                     "recall": c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0}
    return out


def _compare(pairs: Iterable[tuple[_Gold, _Gold]]) -> dict[str, dict[str, float | int]]:
    """`(found, gold)` per paragraph → tp/fp/fn per kind; a found figure matches a gold one of the
    same kind and value once, and `qualifier_right` counts matches whose qualifier agrees too."""
    counts: dict[str, dict[str, int]] = {}

    def bump(kind: str, key: str) -> None:
        for name in (kind, "all"):
            counts.setdefault(name, {"tp": 0, "fp": 0, "fn": 0, "qualifier_right": 0})[key] += 1

    for found, expected in pairs:
        left = [(k, float(v), q) for k, v, q in expected]
        for kind, value, qualifier in found:
            hit = _match(left, kind, float(value))
            if hit is None:
                bump(kind, "fp")
                continue
            left.remove(hit)
            bump(kind, "tp")
            if hit[2] == qualifier:
                bump(kind, "qualifier_right")
        for kind, _, _ in left:
            bump(kind, "fn")
    return _rates(counts)


def score_figures(gold: list[tuple[str, list[tuple[str, float, str]]]]) -> dict[str, dict[str, float | int]]:
    """Precision and recall of `find_figures` per kind on hand-labelled paragraphs.

    `gold`: `(text, [(kind, value, qualifier), ...])` per paragraph. A found figure is right when
    its kind and value match a gold figure of the paragraph (each gold figure matches once);
    `qualifier_right` counts the matched ones whose qualifier also agrees. Kinds with no gold and
    no prediction are left out; `all` pools every kind.
    """
    return _compare(([(f.kind, f.value, f.qualifier) for f in find_figures(text)], expected)
                    for text, expected in gold)


def figure_agreement(pairs: Sequence[tuple[_Gold, _Gold]]) -> dict[str, dict[str, float | int]]:
    """How far two annotators agree: `(first, second)` figure lists per paragraph.

    Per kind, `f1` = 2·matched / (first's + second's figures of that kind), matched on kind and
    value as in `score_figures` (the first pass plays "found", the second "gold"); `all` pools the
    kinds, and `all_unlabelled` matches on value alone — did both see the same figure, whatever
    kind they gave it.
    """
    out = _compare(pairs)
    for m in out.values():
        m["f1"] = 2 * m["tp"] / (m["found"] + m["gold"]) if m["found"] + m["gold"] else 1.0
    anykind = _compare(([("any", v, q) for _, v, q in a], [("any", v, q) for _, v, q in b]) for a, b in pairs)
    if "all" in anykind:
        m = anykind["all"]
        out["all_unlabelled"] = {**m, "f1": 2 * m["tp"] / (m["found"] + m["gold"]) if m["found"] + m["gold"] else 1.0}
    return out

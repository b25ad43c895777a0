"""Word styles and list numbering, resolved the way Word shows them (for `rag.read.docx`).

A paragraph's heading level, boldness and list number are rarely written on the paragraph: they
come from its style, the style it is based on, and ``numbering.xml``. Word shows an auto-numbered
「一、」 or 「（一）」 that is not in the paragraph's text, so a reader that skips numbering loses
the very numbers the chunker reads the report's structure from.

Example: a paragraph styled 「甲市正文标题」 based on ``heading 2`` is a level-2 heading; a
paragraph with ``<w:numPr>`` pointing at a level whose ``lvlText`` is ``（%1）`` and ``numFmt`` is
``chineseCounting`` is shown as 「（三）」 when it is the third of its list.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from docx.oxml.ns import qn as _qn

qn = lru_cache(maxsize=None)(_qn)  # Clark names are asked for per run: computed once each

_TRUE = {"1", "true", "on"}
_HEADING_NAME = re.compile(r"^(?:heading|标题|標題)\s*(\d)$", re.IGNORECASE)
_TITLE_NAME = re.compile(r"^(?:title|标题|標題)$", re.IGNORECASE)
_TOC_NAME = re.compile(r"^(?:toc|目录|目錄)\s*\d$|^(?:toc heading|目录标题)$", re.IGNORECASE)
_MAX_CHAIN = 20  # basedOn chains longer than this are cycles or hostile


def on(el) -> bool | None:
    """The value of a toggle property element (``<w:b/>``, ``<w:b w:val="0"/>``), None if absent."""
    if el is None:
        return None
    val = el.get(qn("w:val"))
    return val is None or val.lower() in _TRUE


class Styles:
    """Paragraph and character styles by id, with their ``basedOn`` chains."""

    def __init__(self, styles_el) -> None:
        self.by_id: dict[str, Any] = {}  # lxml elements
        self.default_para = ""
        self._levels: dict[str, int | None] = {}
        self._bold: dict[tuple[str, str], bool] = {}
        self._toc: dict[str, bool] = {}
        if styles_el is None:
            return
        for st in styles_el.iter(qn("w:style")):
            sid = st.get(qn("w:styleId")) or ""
            self.by_id[sid] = st
            if st.get(qn("w:type")) == "paragraph" and on_attr(st.get(qn("w:default"))):
                self.default_para = sid

    def chain(self, sid: str | None):
        """The style and the styles it is based on, nearest first."""
        seen: set[str] = set()
        while sid and sid not in seen and len(seen) < _MAX_CHAIN:
            seen.add(sid)
            st = self.by_id.get(sid)
            if st is None:
                return
            yield st
            based = st.find(qn("w:basedOn"))
            sid = based.get(qn("w:val")) if based is not None else None

    def name(self, st) -> str:
        el = st.find(qn("w:name"))
        return (el.get(qn("w:val")) or "").strip() if el is not None else ""

    def para_style(self, p) -> str:
        ps = p.find(f"{qn('w:pPr')}/{qn('w:pStyle')}")
        return ps.get(qn("w:val")) if ps is not None else self.default_para

    def heading_level(self, p) -> int | None:
        """0 for a title, 1–9 for a heading (style name, then outline level), None for body text."""
        outline = p.find(f"{qn('w:pPr')}/{qn('w:outlineLvl')}")
        if outline is not None:
            return _outline(outline)
        sid = self.para_style(p)
        if sid not in self._levels:
            self._levels[sid] = self._style_level(sid)
        return self._levels[sid]

    def _style_level(self, sid: str) -> int | None:
        for st in self.chain(sid):
            name = self.name(st)
            if _TITLE_NAME.match(name):
                return 0
            if m := _HEADING_NAME.match(name):
                return int(m.group(1)) or None
            outline = st.find(f"{qn('w:pPr')}/{qn('w:outlineLvl')}")
            if outline is not None:
                return _outline(outline)
        return None

    def is_toc(self, p) -> bool:
        sid = self.para_style(p)
        if sid not in self._toc:
            self._toc[sid] = any(_TOC_NAME.match(self.name(st)) for st in self.chain(sid))
        return self._toc[sid]

    def bold(self, run, para_sid: str) -> bool:
        """Run properties, then the run's character style chain, then the paragraph style chain."""
        rpr = run.find(qn("w:rPr"))
        if rpr is not None:
            direct = on(rpr.find(qn("w:b")))
            if direct is not None:
                return direct
        rs = rpr.find(qn("w:rStyle")) if rpr is not None else None
        key = (rs.get(qn("w:val")) or "" if rs is not None else "", para_sid)
        if key not in self._bold:
            self._bold[key] = self._styled_bold(*key)
        return self._bold[key]

    def _styled_bold(self, char_sid: str, para_sid: str) -> bool:
        for sid in (char_sid, para_sid):
            for st in self.chain(sid):
                v = on(st.find(f"{qn('w:rPr')}/{qn('w:b')}"))
                if v is not None:
                    return v
        return False

    def num_pr(self, p) -> tuple[str, int] | None:
        """(numId, level) of an auto-numbered paragraph: its own ``numPr``, else its style's."""
        direct = p.find(f"{qn('w:pPr')}/{qn('w:numPr')}")
        sources = [direct] if direct is not None else []
        sources += [st.find(f"{qn('w:pPr')}/{qn('w:numPr')}") for st in self.chain(self.para_style(p))]
        num_id, ilvl = None, None
        for npr in sources:
            if npr is None:
                continue
            if num_id is None and (el := npr.find(qn("w:numId"))) is not None:
                num_id = el.get(qn("w:val"))
            if ilvl is None and (el := npr.find(qn("w:ilvl"))) is not None:
                ilvl = _int(el.get(qn("w:val")), 0)
        if not num_id or num_id == "0":  # numId 0 switches a style's numbering off
            return None
        return num_id, min(max(ilvl or 0, 0), 8)


def on_attr(val: str | None) -> bool:
    return val is not None and val.lower() in _TRUE


def _int(s: str | None, default: int) -> int:
    try:
        return int(s) if s is not None else default
    except ValueError:
        return default


def _outline(el) -> int | None:
    lvl = _int(el.get(qn("w:val")), 9)
    return lvl + 1 if 0 <= lvl < 9 else None


# --- numbering --------------------------------------------------------------------------------
_CN = "零一二三四五六七八九"
_LEGAL = "零壹贰叁肆伍陆柒捌玖"
_STEMS = "甲乙丙丁戊己庚辛壬癸"
_BRANCHES = "子丑寅卯辰巳午未申酉戌亥"
_ROMAN = (
    (1000, "m"),
    (900, "cm"),
    (500, "d"),
    (400, "cd"),
    (100, "c"),
    (90, "xc"),
    (50, "l"),
    (40, "xl"),
    (10, "x"),
    (9, "ix"),
    (5, "v"),
    (4, "iv"),
    (1, "i"),
)


def _counting(n: int, digits: str = _CN, ten: str = "十") -> str:
    """1 → 一, 12 → 十二, 20 → 二十, 105 → 一百零五 (Word's chineseCounting up to 999)."""
    if n <= 0 or n > 999:
        return str(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = digits[hundreds] + "百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else digits[tens]) + ten
    elif hundreds and ones:
        out += digits[0]
    return out + (digits[ones] if ones else "")


def _roman(n: int) -> str:
    out = ""
    for v, s in _ROMAN:
        while n >= v:
            out, n = out + s, n - v
    return out or str(n)


def _letters(n: int) -> str:
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1) if n > 0 else str(n)


def format_number(n: int, fmt: str) -> str:
    """`n` in Word's ``numFmt`` `fmt`; unknown formats fall back to decimal."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting"):
        return _counting(n)
    if fmt == "chineseLegalSimplified":
        return _counting(n, _LEGAL, "拾")
    if fmt in ("ideographDigital", "taiwaneseDigital", "japaneseDigitalTenThousand"):
        return "".join("〇一二三四五六七八九"[int(d)] for d in str(n))
    if fmt in ("ideographTraditional", "ideographZodiac"):
        seq = _STEMS if fmt == "ideographTraditional" else _BRANCHES
        return seq[(n - 1) % len(seq)] if n > 0 else str(n)
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese", "ideographEnclosedCircle"):
        return chr(0x245F + n) if 1 <= n <= 20 else str(n)
    if fmt == "decimalEnclosedParen":
        return chr(0x2473 + n) if 1 <= n <= 20 else f"({n})"
    if fmt == "decimalEnclosedFullstop":
        return chr(0x2487 + n) if 1 <= n <= 20 else f"{n}."
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return "".join(chr(0xFF10 + int(d)) for d in str(n))
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("lowerLetter", "upperLetter"):
        s = _letters(n)
        return s.upper() if fmt == "upperLetter" else s
    if fmt in ("lowerRoman", "upperRoman"):
        s = _roman(n)
        return s.upper() if fmt == "upperRoman" else s
    if fmt == "none":
        return ""
    return str(n)


class Numbering:
    """Counters for the lists of one document; `label` gives the text Word shows before a paragraph."""

    def __init__(self, numbering_el) -> None:
        self.abstract: dict[str, object] = {}
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}  # numId → (abstractNumId, start overrides)
        self.counters: dict[str, list[int]] = {}
        if numbering_el is None:
            return
        for an in numbering_el.iter(qn("w:abstractNum")):
            self.abstract[an.get(qn("w:abstractNumId")) or ""] = an
        for num in numbering_el.iter(qn("w:num")):
            an_id = num.find(qn("w:abstractNumId"))
            overrides: dict[int, int] = {}
            for ov in num.iter(qn("w:lvlOverride")):
                so = ov.find(qn("w:startOverride"))
                if so is not None:
                    overrides[_int(ov.get(qn("w:ilvl")), 0)] = _int(so.get(qn("w:val")), 1)
            if an_id is not None:
                self.nums[num.get(qn("w:numId")) or ""] = (an_id.get(qn("w:val")) or "", overrides)

    def _level(self, an, ilvl: int):
        for lvl in an.iter(qn("w:lvl")):
            if _int(lvl.get(qn("w:ilvl")), -1) == ilvl:
                return lvl
        return None

    def label(self, num_id: str, ilvl: int) -> str:
        """Advance the list's counter at `ilvl` (deeper levels restart) and render ``lvlText``."""
        if num_id not in self.nums or self.nums[num_id][0] not in self.abstract:
            return ""
        an_id, overrides = self.nums[num_id]
        an = self.abstract[an_id]
        # lists of one abstract definition continue each other; a start override begins a new one
        key = an_id if not overrides else f"{an_id}/{num_id}"
        levels = [self._level(an, i) for i in range(9)]
        starts = [
            overrides.get(i, _int(_val(lv, "w:start"), 1)) if lv is not None else 1 for i, lv in enumerate(levels)
        ]
        counts = self.counters.setdefault(key, [s - 1 for s in starts])
        counts[ilvl] += 1
        for d in range(ilvl + 1, 9):
            counts[d] = starts[d] - 1
        lvl = levels[ilvl]
        if lvl is None:
            return ""
        fmt = _val(lvl, "w:numFmt") or "decimal"
        text = _val(lvl, "w:lvlText")
        if text is None:
            return ""
        if fmt == "bullet":
            return "•"
        legal = on(lvl.find(qn("w:isLgl"))) is True

        def repl(m: re.Match[str]) -> str:
            d = int(m.group(1)) - 1
            lv = levels[d] if 0 <= d < 9 else None
            f = "decimal" if legal or lv is None else (_val(lv, "w:numFmt") or "decimal")
            return format_number(max(counts[d], starts[d]) if d != ilvl else counts[d], f) if 0 <= d < 9 else ""

        return re.sub(r"%([1-9])", repl, text).strip()


def _val(el, tag: str) -> str | None:
    child = el.find(qn(tag))
    return child.get(qn("w:val")) if child is not None else None

"""Document and article metadata derived from the text: place, year, kind, date, meeting.

Government reports rarely say their city in a fixed place, so we read it from the meeting line
(「在忻州市第五届人民代表大会第四次会议上」) when there is one, else from the place name the
text uses most (with 我县/全县 vs 我市/全市 deciding county or city). A sidecar file
``<report>.meta.toml`` next to the report overrides any field.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .clean import to_simplified

PROVINCES = set(
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 "
    "云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 中国 全国 中华".split()
)
GENERIC = set(
    "城市 全市 我市 本市 各市 市县 县区 全县 我县 本县 各县 县城 郊区 城区 市区 园区 开发区 社区 景区 地区 辖区 山区 片区 "
    "街区 小区 新区 示范区 试验区 集聚区 功能区 省市 县市 市级 县级 区县 市场 新建 城镇 高新区 经开区 都市 超市 城乡".split()
)
DATE_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
MEETING_RE = re.compile(r"在(.{4,40}?(?:会议|大会))上")
MEETING_PLACE_RE = re.compile(r"^([\u4e00-\u9fff]{2,6}?[省市县区州旗])第")
YEAR_RE = re.compile(r"(?<!\d)(20\d{2}|19\d{2})(?!\d)")
WORK_YEAR_RE = re.compile(r"(20\d{2})\s*年\s*(?:重点)?工作(?!回顾|总结)(?:安排|任务|重点)?")


@dataclass
class DocMeta:
    place: str = ""
    level: str = ""  # city | county
    year: int | None = None
    kind: str = ""
    date: str = ""
    meeting: str = ""
    script: str = "simplified"  # or traditional


def detect_script(text: str) -> str:
    """Traditional when converting to Simplified changes a noticeable share of Chinese characters."""
    cjk = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not cjk:
        return "simplified"
    sample = "".join(cjk[:20000])
    changed = sum(1 for a, b in zip(sample, to_simplified(sample)) if a != b)
    return "traditional" if changed / len(sample) > 0.03 else "simplified"


def _place_from_text(simp: str) -> tuple[str, str]:
    import jieba.posseg as pseg  # local: loading jieba's model is only needed at ingestion

    county = simp.count("我县") + simp.count("全县") > simp.count("我市") + simp.count("全市")
    counts: Counter[str] = Counter()
    for word, flag in pseg.cut(simp):
        if word in GENERIC or word in PROVINCES or not re.fullmatch(r"[\u4e00-\u9fff]{2,4}", word):
            continue
        if word[-1] in "市县区州" or (flag == "ns" and len(word) == 2):
            counts[word] += 1
    if not counts:
        return "", ""
    if county:
        for word, _ in counts.most_common():
            if word.endswith("县"):
                return word, "county"
    name, _ = counts.most_common(1)[0]
    if name.endswith("市") or len(name) != 2:
        return name, "city"
    return name + "市", "city"


def derive(text: str, subtitle: str = "", sidecar: Path | None = None) -> DocMeta:
    """Metadata for one document from its text (and the subtitle line, if the chunker found one)."""
    simp = to_simplified(text)
    meta = DocMeta(script=detect_script(text))
    head = to_simplified(subtitle) + "\n" + simp[:600]
    if m := DATE_RE.search(head):
        meta.date = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    if m := MEETING_RE.search(head):
        meeting = re.sub(r"^\d{4}年\d{1,2}月\d{1,2}日", "", m.group(1))
        meta.meeting = meeting
        if pm := MEETING_PLACE_RE.match(meeting):
            meta.place = pm.group(1)
            meta.level = "county" if meta.place.endswith("县") else "city"
    if not meta.place:
        meta.place, meta.level = _place_from_text(simp)
    if meta.date:
        meta.year = int(meta.date[:4])
    elif m := WORK_YEAR_RE.search(simp):
        meta.year = int(m.group(1))
    else:
        years = Counter(YEAR_RE.findall(simp))
        meta.year = int(years.most_common(1)[0][0]) if years else None
    if sidecar is not None and sidecar.exists():
        data = tomllib.loads(sidecar.read_text(encoding="utf-8"))
        for key, value in data.items():
            if hasattr(meta, key):
                setattr(meta, key, value)
    return meta


def article_kind(title: str, subtitle: str, body_sample: str, structural: str) -> str:
    """政府工作报告 / 政府工作报告（摘要） / 工会工作综述 / news / box / other."""
    t = to_simplified(title + " " + subtitle)
    if structural in ("news", "box"):
        return structural
    if "政府工作报告" in t:
        return "政府工作报告（摘要）" if "摘要" in t else "政府工作报告"
    if "综述" in t:
        return "工会工作综述" if "工会" in t else "综述"
    b = to_simplified(body_sample)
    if "各位代表" in b and ("政府工作" in b or "人民政府" in b):
        return "政府工作报告"
    return "other"


def article_year(title: str, subtitle: str, doc_year: int | None, section_titles: list[str]) -> int | None:
    """The year an article is about: its own title first, then the document's date, then its sections."""
    for s in (title, subtitle):
        if m := YEAR_RE.search(s):
            if not DATE_RE.search(s):
                return int(m.group(1))
    if doc_year:
        return doc_year
    for s in section_titles:
        if m := WORK_YEAR_RE.search(to_simplified(s)):
            return int(m.group(1))
    return None

"""Document and article metadata: level, place, the year of the report and the year it reviews,
date, meeting, speaker, kind.

Evidence is read in order of trust and cross-checked, never guessed from a random word:

1. the dateline/meeting line (「——2024年1月20日在甲市第五届人民代表大会第三次会议上」): date, meeting,
   and the place and level of the people's congress (全国人民代表大会 is the State Council's report);
2. the speaker line (「甲市人民政府市长 张三」「国务院总理 李四」) and the opening 「我代表乙县人民政府」;
3. the section that reviews a year (「一、2023年工作回顾」): the report was given the year after;
4. labels outside the text (a title field, a scraper header, the file name, dataset columns) —
   used only when the text itself says nothing, because labels are often wrong (a file labelled
   2018 that holds the report given in January 2019, which reviews 2018).

Anything not established stays empty (unknown). A sidecar ``<report>.meta.toml`` overrides any field.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rag.chunk.clean import to_simplified
from rag.read.numbering import cn_to_int

# Provincial-level units, so that 「北京市」 is a province-level report and 「北京」 names a province.
MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
PROVINCES = set(
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 "
    "云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 中国 全国 中华".split()
)
REGIONS = {
    "内蒙古": "内蒙古自治区",
    "广西": "广西壮族自治区",
    "西藏": "西藏自治区",
    "宁夏": "宁夏回族自治区",
    "新疆": "新疆维吾尔自治区",
}
NATIONAL_PLACE = "全国"
# Words that name the State Council's report in a question.
NATIONAL_ALIASES = ("国务院", "全国", "中央政府", "中国", "我国", "国家")
GENERIC = set(
    "城市 全市 我市 本市 各市 市县 县区 全县 我县 本县 各县 县城 郊区 城区 市区 园区 开发区 社区 景区 地区 辖区 山区 片区 "
    "街区 小区 新区 示范区 试验区 集聚区 功能区 省市 县市 市级 县级 区县 市场 新建 城镇 高新区 经开区 都市 超市 城乡 "
    "全省 我省 本省 各省 全区 我区 本区 各区 省级 区级 自治区 特区 保护区 先行区 自贸区 风景区 贫困地区".split()
)
_CN_DIGIT = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0", "○": "0", "O": "0"}
DATE_RE = re.compile(
    r"(\d{4}|[〇零○一二三四五六七八九]{4})\s*年\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月\s*"
    r"(\d{1,2}|[一二三四五六七八九十]{1,3})\s*日"
)
MEETING_RE = re.compile(r"在(.{4,40}?(?:会议|大会))上")
_ADMIN = r"(?:省|市|县|区|州|旗|盟|自治区|自治州|自治县)"
MEETING_PLACE_RE = re.compile(rf"^([\u4e00-\u9fff]{{2,10}}?{_ADMIN})(?:第|[一二三四五六七八九十]+届)")
SPEAKER_RE = re.compile(
    r"(?:^|[\s\u3000])([\u4e00-\u9fff]{2,14}?)?(?:人民政府)?(代?(?:省|市|县|区|州|旗|盟)长|总理|主席)"
    r"[\s\u3000\u00a0\u2002]*([\u4e00-\u9fff·]{2,4})?\s*$"
)
ON_BEHALF_RE = re.compile(rf"我代表([\u4e00-\u9fff]{{2,12}}?{_ADMIN}?)人民政府|我代表(国务院)")
YEAR_RE = re.compile(r"(?<!\d)(20\d{2}|19\d{2})(?!\d)")
WORK_YEAR_RE = re.compile(r"(20\d{2})\s*年\s*(?:重点)?工作(?!回顾|总结)(?:安排|任务|重点)?")
REVIEW_RE = re.compile(r"(20\d{2})\s*年(?:[^\n。，]{0,12})?工作回顾")


@dataclass
class DocMeta:
    place: str = ""
    level: str = ""  # national | province | prefecture | county | district ("" when unknown)
    year: int | None = None  # the year the report was given (its plans are for this year)
    reviews: int | None = None  # the year its review part is about (usually year - 1)
    kind: str = ""
    date: str = ""
    meeting: str = ""
    speaker: str = ""
    script: str = "simplified"  # or traditional
    label_year: int | None = None  # the year a label outside the text gave, when it disagrees


def detect_script(text: str) -> str:
    """Traditional when converting to Simplified changes a noticeable share of Chinese characters."""
    cjk = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not cjk:
        return "simplified"
    sample = "".join(cjk[:20000])
    changed = sum(1 for a, b in zip(sample, to_simplified(sample)) if a != b)
    return "traditional" if changed / len(sample) > 0.03 else "simplified"


def cn_year(s: str) -> int:
    """「二〇一九」 → 2019, 「2019」 → 2019."""
    return int("".join(_CN_DIGIT.get(c, c) for c in s))


def _cn_small(s: str) -> int:
    if s.isdigit():
        return int(s)
    return cn_to_int(s)


def parse_date(s: str) -> str:
    """The first full date in `s` as YYYY-MM-DD ('' when none)."""
    if m := DATE_RE.search(s):
        try:
            return f"{cn_year(m.group(1)):04d}-{_cn_small(m.group(2)):02d}-{_cn_small(m.group(3)):02d}"
        except (ValueError, IndexError):
            return ""
    return ""


def level_of(place: str) -> str:
    """The administrative level a place name implies."""
    if not place:
        return ""
    if place == NATIONAL_PLACE:
        return "national"
    bare = re.sub(r"(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区)$", "", place)
    if place.endswith(("省", "自治区")) or bare in PROVINCES:
        return "province"
    if place.endswith(("县", "旗", "自治县")):
        return "county"
    if place.endswith("区"):
        return "district"
    return "prefecture"  # 市, 州, 盟 (a county-level city is not told apart from its wording)


def full_place(name: str) -> str:
    """A bare provincial name with its suffix (河北 → 河北省, 北京 → 北京市, 宁夏 → 宁夏回族自治区)."""
    if name in REGIONS:
        return REGIONS[name]
    if name in MUNICIPALITIES:
        return name + "市"
    if name in PROVINCES and name not in ("中国", "全国", "中华"):
        return name + "省"
    return name


def _place_from_meeting(meeting: str) -> str:
    if "全国人民代表大会" in meeting or "全国人大" in meeting:
        return NATIONAL_PLACE
    if m := MEETING_PLACE_RE.match(meeting):
        return m.group(1)
    return ""


def _place_from_counts(simp: str) -> str:
    """Last resort: the place name the text uses most, confirmed by the text's own words for its
    level (全市/我市, 全县/我县, 全区/我区, 全省/我省). A bare name (「甲」 tagged as a place, or 「乙州」)
    takes the suffix of that level."""
    import jieba.posseg as pseg  # local: jieba's model is only needed at ingestion

    self_words = {
        "county": simp.count("全县") + simp.count("我县"),
        "prefecture": simp.count("全市") + simp.count("我市"),
        "district": simp.count("全区") + simp.count("我区"),
        "province": simp.count("全省") + simp.count("我省"),
    }
    own = max(self_words, key=self_words.__getitem__)
    if not self_words[own]:
        return ""
    suffix = {"county": "县", "prefecture": "市", "district": "区", "province": "省"}[own]
    counts: Counter[str] = Counter()
    for word, flag in pseg.cut(simp[:20000]):
        if word in GENERIC or not re.fullmatch(r"[\u4e00-\u9fff]{2,6}", word):
            continue
        if word[-1] in "省市县区旗" and flag in ("ns", "n", "nz", "nr"):
            counts[word] += 1
        elif flag == "ns" and len(word) <= 3 and word not in ("中国", "全国", "中华"):
            counts[full_place(word) if word in PROVINCES else word + suffix] += 1
    for word, c in counts.most_common():
        if c >= 2 and level_of(word) == own:
            return word
    return ""


def derive(
    text: str, head: list[str] | None = None, sidecar: Path | None = None, labels: list[str] | None = None
) -> DocMeta:
    """Metadata for one document.

    `text` is the report's content (non-content lines already left out); `head` are its title,
    dateline and speaker lines; `labels` are texts outside the report that may name its place
    and year (a title field, a scraper header, the file name), trusted least."""
    head = [to_simplified(h) for h in (head or [])]
    labels = [to_simplified(x) for x in (labels or [])]
    simp = to_simplified(text)
    meta = DocMeta(script=detect_script(text))
    head_text = "\n".join(head) + "\n" + simp[:400]
    meta.date = parse_date(head_text)
    if m := MEETING_RE.search(head_text):
        meeting = DATE_RE.sub("", m.group(1)).lstrip("—―-－ 　")
        meta.meeting = meeting
        meta.place = _place_from_meeting(meeting)
    for h in head + simp[:300].splitlines()[:6]:
        if len(h) <= 40 and (m := SPEAKER_RE.search(h.strip())) and m.group(3):
            meta.speaker = h.strip().replace("\u3000", " ")
            office_place = (m.group(1) or "").removesuffix("人民政府")
            if m.group(2) == "总理":
                meta.place = meta.place or NATIONAL_PLACE
            elif office_place and not meta.place:
                meta.place = full_place(office_place)
            break
    if m := ON_BEHALF_RE.search(simp[:3000]):
        said = NATIONAL_PLACE if m.group(2) else m.group(1)
        if said and said not in ("市", "县", "区", "省", "州", "旗"):
            if not meta.place or (meta.place != said and said.startswith(meta.place)):
                meta.place = full_place(said)
    if not meta.place:
        for lab in labels:
            lab = re.sub(r"(?:19|20)\d{2}\s*年度?", " ", lab)
            found = re.findall(rf"([\u4e00-\u9fff]{{1,10}}?{_ADMIN})(?:人民)?政府工作报告", lab)
            found = found or [p for p in PROVINCES if lab.startswith(p) or f"年{p}" in lab]
            if found:
                meta.place = full_place(found[0])
                break
    if not meta.place:
        meta.place = _place_from_counts(simp)
    meta.level = level_of(meta.place)

    review = REVIEW_RE.search(simp[:20000])
    label_year = next((int(m.group(1)) for lab in labels for m in [YEAR_RE.search(lab)] if m), None)
    if meta.date:
        meta.year = int(meta.date[:4])
    elif review:
        meta.year = int(review.group(1)) + 1
    elif m := WORK_YEAR_RE.search(simp):
        meta.year = int(m.group(1))
    elif label_year:
        meta.year = label_year
    if review and meta.year and int(review.group(1)) < meta.year:
        meta.reviews = int(review.group(1))
    elif meta.year:
        meta.reviews = meta.year - 1
    if label_year and meta.year and label_year != meta.year:
        meta.label_year = label_year
    if sidecar is not None and sidecar.exists():
        data = tomllib.loads(sidecar.read_text(encoding="utf-8"))
        for key, value in data.items():
            if hasattr(meta, key):
                setattr(meta, key, value)
        if "place" in data and "level" not in data:
            meta.level = level_of(meta.place)
    return meta


def article_kind(title: str, subtitle: str, body_sample: str, structural: str) -> str:
    """政府工作报告 / 政府工作报告（摘要） / 综述 / news / box / other."""
    t = to_simplified(title + " " + subtitle)
    if structural in ("news", "box"):
        return structural
    if "政府工作报告" in t or "工作报告" in t:
        return "政府工作报告（摘要）" if any(w in t for w in ("摘要", "摘登", "摘编")) else "政府工作报告"
    if "综述" in t:
        return "综述"
    b = to_simplified(body_sample)
    if "各位代表" in b and ("政府工作" in b or "人民政府" in b or "国务院" in b):
        return "政府工作报告"
    return "other"


def article_year(title: str, subtitle: str, doc_year: int | None, section_titles: list[str]) -> int | None:
    """The year an article is about: its own title first, then the document's year, then its sections."""
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

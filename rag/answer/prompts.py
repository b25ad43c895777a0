"""What the assistant says to the model and to the user, in words: the fixed system prompt and its
worked examples, the stricter retry, the translation prompts, the refusal wording, and the script an
answer is shown in.

Kept apart from the code that selects passages and runs the model because these texts are tuned by
measurement (each has its reason beside it) and change on their own; the prompt-prefix cache is
keyed by their hash, so an edit here is all it takes to invalidate it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag.chunk.clean import to_simplified, to_traditional
from rag.chunk.metadata import detect_script
from rag.search.query import is_english

if TYPE_CHECKING:
    from rag.answer.context import Passage
    from rag.chunk.quote import ContextSentence

# The fixed prefix of every prompt: instructions and two worked examples (one answer, one refusal).
# It always comes first, so llama.cpp keeps its key-value state between questions and only the
# passages and the question are processed for each new question. Chosen by measurement on the
# team's question set: without the examples the 1.5B model refused one answerable question in six.
SYSTEM_PROMPT_ZH = (
    "你是政府工作报告问答助手。根据用户给出的资料回答问题。回答要简短，用一句话，"
    "数字连同单位和“以上”“左右”等字样照抄资料原文。资料里没有问题所问的内容时，回答：资料中未提及。"
)
EXAMPLES = [
    {
        "role": "user",
        "content": "资料：\n[1]（甲市·2024年·（二）扩大有效投资）全年计划实施项目120个，年度计划投资85亿元。\n"
        "[2]（甲市·2023年·一、2023年工作回顾）新建5G基站210座。\n\n问题：甲市今年计划实施多少个项目？",
    },
    {"role": "assistant", "content": "甲市今年计划实施项目120个。"},
    {
        "role": "user",
        "content": "资料：\n[1]（乙县·2024年·（三）保障改善民生）城镇新增就业2800人。\n\n问题：乙县去年城镇新增就业多少人？",
    },
    {"role": "assistant", "content": "资料中未提及。"},
]
# The retry after an unverified answer: no examples to imitate, and a plain instruction to refuse.
STRICT_PROMPT_ZH = (
    "你是政府工作报告问答助手。只能依据用户提供的资料回答，不要使用资料以外的知识。"
    "回答要简短：用一句完整的话回答，数字连同单位和“以上”“左右”等字样照抄资料原文。"
    "每条资料标有地区和年份，只使用与问题的地区和年份一致的资料。"
    "如果资料中没有答案，只回答：资料中未提及。"
)
# Said with a part asked again because its reply repeated an earlier part's figure.
REPEAT_HINT = "\n注意：这一问与上一问问的不是同一个数字，请找出这一问所问的数字。"
STRICT_SUFFIX = "注意：答案中的每个数字都必须原样出现在资料中；不确定时回答：资料中未提及。"
# The small models answer English questions about Chinese text far better when the instruction
# itself is in Chinese (measured: an English instruction made the 1.5B model refuse answerable ones).
ENGLISH_INSTRUCTION = (
    "请用一句完整的英文句子回答，并在括号中附上资料原文的数字和单位，"
    "例如：Jia City plans to build 120 (120个) new projects. "
    "资料中没有答案时回答：The reports do not say."
)
# English questions go through Chinese: the model answers Chinese questions about Chinese text far
# better than English ones (measured: it refused a third of the answerable English questions).
TRANSLATE_QUESTION_PROMPT = "你是翻译助手。把用户给出的英文问题翻译成简洁的中文问题，地名、年份、数字照译，只输出译文。"
TRANSLATE_QUESTION_EXAMPLE = [
    {"role": "user", "content": "How many new jobs did Jia City plan to create in 2024?"},
    {"role": "assistant", "content": "甲市2024年计划新增就业多少人？"},
]
TRANSLATE_ANSWER_PROMPT = (
    "你是翻译助手。把用户给出的中文回答翻译成英文，数字要准确（万、亿换算成 thousand、million、"
    "billion），并在括号中保留原文的数字和单位，只输出译文。"
)
TRANSLATE_ANSWER_EXAMPLE = [
    {"role": "user", "content": "甲市今年计划新建5G基站1200座，总投资3.5亿元。"},
    {
        "role": "assistant",
        "content": "Jia City plans to build 1,200 (1200座) new 5G base stations this year, "
        "with a total investment of 350 million yuan (3.5亿元).",
    },
]
# What the assistant says when the reports do not answer (the prompts ask the model for the same words).
REFUSAL_ZH = "资料中未提及"
REFUSAL_EN = "The reports do not say."
REFUSAL_MARKERS_ZH = (
    "资料中未提及",
    "资料未提及",
    "未提及",
    "没有提及",
    "沒有提及",
    "资料中没有",
    "資料中未提及",
    "无法回答",
)
REFUSAL_MARKERS_EN = (
    "the reports do not say",
    "not mentioned",
    "does not mention",
    "do not mention",
    "no information",
    "not provided",
    "cannot answer",
    "not specified",
)


def user_message(question: str, passages: list[Passage]) -> str:
    """The passages and the question, as the user turn of a prompt (a later part of a question in
    parts is one more such turn of the same conversation)."""
    lines = [f"[{p.n}]（{p.label}）{p.text}" for p in passages]
    if is_english(question):
        return "资料：\n" + "\n".join(lines) + f"\n\n问题（英文）：{question}\n{ENGLISH_INSTRUCTION}"
    return "资料：\n" + "\n".join(lines) + f"\n\n问题：{question}"


def build_messages(question: str, passages: list[Passage], strict: bool = False) -> list[dict]:
    english = is_english(question)
    user = user_message(question, passages)
    if strict:
        return [{"role": "system", "content": STRICT_PROMPT_ZH + STRICT_SUFFIX}, {"role": "user", "content": user}]
    if english:  # the Chinese examples made the models refuse English questions (measured)
        return [{"role": "system", "content": STRICT_PROMPT_ZH}, {"role": "user", "content": user}]
    return [{"role": "system", "content": SYSTEM_PROMPT_ZH}, *EXAMPLES, {"role": "user", "content": user}]


def question_to_chinese(question: str, names: dict[str, str] | None = None) -> list[dict]:
    """The prompt that turns an English question into a Chinese one; `names` are the places the
    question names as the reports write them (the model misspells a transliteration it must guess:
    "Dai County" came back as 「大县」)."""
    hint = "（地名：" + "，".join(f"{en} = {zh}" for en, zh in names.items()) + "）" if names else ""
    return [
        {"role": "system", "content": TRANSLATE_QUESTION_PROMPT},
        *TRANSLATE_QUESTION_EXAMPLE,
        {"role": "user", "content": question + hint},
    ]


def answer_to_english(answer: str) -> list[dict]:
    """The prompt that renders a verified Chinese answer in English."""
    return [
        {"role": "system", "content": TRANSLATE_ANSWER_PROMPT},
        *TRANSLATE_ANSWER_EXAMPLE,
        {"role": "user", "content": answer},
    ]


def is_refusal(answer: str) -> bool:
    a = answer.strip().lower()
    if not a:
        return True
    return any(m in a for m in REFUSAL_MARKERS_ZH) or any(m in a for m in REFUSAL_MARKERS_EN)


def match_script(question: str, answer: str, english: bool) -> str:
    """Answer in the script of the question; quotes inside 「」 stay as the source wrote them."""
    if english:
        return answer
    convert = to_traditional if detect_script(question) == "traditional" else to_simplified
    pieces = re.split(r"(「[^」]*」)", answer)
    return "".join(p if p.startswith("「") else convert(p) for p in pieces)


def refusal_text(question: str, english: bool, nearby: ContextSentence | None = None, chunk=None) -> str:
    """「资料中未提及」 (or its English), with what the reports say nearby when there is a sentence,
    cited as [1]; in the question's script."""
    if nearby is not None and chunk is not None:
        where = "·".join(
            x for x in (chunk.place, f"{chunk.period or chunk.year}年" if (chunk.period or chunk.year) else "") if x
        )
        if english:
            text = f"{REFUSAL_EN} Nearby, the reports say ({where}): 「{nearby.text}」[1]"
        else:
            text = f"{REFUSAL_ZH}。报告中相关的内容（{where}）：「{nearby.text}」[1]"
    else:
        text = REFUSAL_EN if english else REFUSAL_ZH + "。"
    return match_script(question, text, english)


def quoted_answer(question: str, english: bool, sentence: ContextSentence) -> str:
    """The extractive answer: the one sentence of the reports that answers, quoted and cited as [1]."""
    text = f"The reports say: 「{sentence.text}」[1]" if english else f"据报告：「{sentence.text}」[1]"
    return match_script(question, text, english)

"""The Chinese word lists the stages share, in one place: words a tokenizer drops, words of a
question that carry no topic, words of an answer that add nothing, and measure words that tell no
indicator apart. Each list keeps its own job (they are not one list: a question word such as 目标
still matters to the tokenizer). English word lists are in `rag.search.english`; place words in
`rag.chunk.metadata`."""

from __future__ import annotations

# Dropped by the tokenizer that BM25, query analysis and context selection share (`text.tokenize`).
STOP_WORDS = set(
    "的 了 和 与 及 等 是 在 为 对 把 将 以 于 中 上 下 我 我们 要 有 个 也 并 或 之 其 这 那 年 今年 多少 哪些 什么 如何 怎么 是否 吗 呢".split()
)

# Question words and report-identifying words: they carry no topic.
QUESTION_WORDS = set(
    "多少 哪些 什么 如何 怎么 怎样 是否 哪个 哪里 何时 几 个 家 多 少 要 将 会 能 有 吗 呢 请问 一下 "
    "今年 去年 明年 计划 目标 预计 达到 实现 完成 情况 方面 主要 具体 分别 哪 谁 由 是 年 市 县 全市 全县 "
    "全省 全区 全国 省 区 报告 政府 工作 政府工作报告 工作报告 提出 提到 说 指出 里 中 上 的 了 "
    "国务院 我国 中国 本届 该 其 有没有 没有 设定 设置 提出了 所作 作 哪位 拟 按 又 还 分别是 当年 哪几 几件 哪几件 "
    "具体有 有哪些 相比 高还是低 还是 实际 实际上 原定 定的 最终 最后 各 各是 各为 各自".split()
)

# Words an answer may say without adding anything the passages must support (`verify.check`).
ANSWER_FILLER = set(
    "资料 报告 提及 未 答案 问题 回答 根据 其中 以上 左右 达到 目标 计划 今年 去年 全年 实现 完成 新增 全市 全县".split()
)

# Measure words: 「增长」「目标」 name no indicator, so they tell no two indicators apart (`verify.indicator_terms`).
MEASURE_WORDS = {"增长", "增速", "增幅", "下降", "提高", "上涨", "目标", "总量", "规模", "比重", "多少"}

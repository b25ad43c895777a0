"""Joining the replies to a question in several parts (no model needed)."""
from rag.parts import join_replies, part_remarks
from rag.query import QueryAnalysis


def test_replies_to_each_part_are_joined_and_compared_in_code():
    q = QueryAnalysis(question="…", text="…", english=False,
                      parts=["甲市今年的增长目标是多少？", "去年的实际增速是多少？"], compare=("高", "低"))
    replies = ["甲市今年的增长目标是5%左右。[1]", "去年实际增长5.6%。[2]"]
    assert join_replies(replies) == "甲市今年的增长目标是5%左右。[1]\n去年实际增长5.6%。[2]"
    assert part_remarks(q, replies) == "前者低于后者。", "5% is below 5.6%, whatever the model said"
    assert part_remarks(q, ["目标是6%。", "去年增长5.6%。"]) == "前者高于后者。"
    assert part_remarks(q, ["目标是6%。", "去年增加120万人。"]) == "", "a percentage and a count do not compare"
    # a part the model could not answer is said so; the other part stands
    assert join_replies(["目标是6%。[1]", "资料中未提及。"]) == "目标是6%。[1]"
    assert part_remarks(q, ["目标是6%。[1]", "资料中未提及。"]) == "（第2问：资料中未提及。）"
    assert join_replies(["资料中未提及。", "资料中未提及。"]) == "资料中未提及。"


def test_a_chinese_reply_that_starts_with_a_year_keeps_chinese_punctuation():
    assert join_replies(["2015年安排5000亿元", "2016年安排6000亿元。[2]"]) == "2015年安排5000亿元。\n2016年安排6000亿元。[2]"
    assert join_replies(["Jia City plans 120 (120个) projects"]) == "Jia City plans 120 (120个) projects."


def test_each_part_is_checked_against_the_passages_of_its_own_year(corpus_retriever):
    """「2014年…多少？2015年的目标又是多少？」: the 2015 target paragraph cannot answer the 2014 part."""
    from rag.gate import Gate

    gate = Gate(corpus_retriever)
    question = "2015年政府工作报告中，2014年城镇新增就业多少人？2015年的预期目标又是多少？"
    q = corpus_retriever.analyse(question)
    results = corpus_retriever.search(question, 5)
    allowed = gate.fitting_chunks(q, results)
    fits = gate.part_fitting(q, [corpus_retriever.analyse(p) for p in q.parts], allowed, results)
    by_id = {r.id: r for r in results}
    outcome = next(r.id for r in results if "1322万人" in r.text)
    target = next(r.id for r in results if "1000万人以上" in r.text)
    assert {outcome, target} <= allowed, "the whole question asks about both years"
    assert outcome in fits[0] and target not in fits[0], by_id[target].period
    assert target in fits[1] and outcome not in fits[1]

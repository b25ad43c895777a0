"""Whether a figure in a source sentence is said of what the question asks (no model needed)."""
import pytest

from rag.cite import misattributed


@pytest.mark.parametrize("question, answer, support, one_year, expected", [
    # the contrasting indicator
    ("甲市去年一般公共预算收入增长多少？", "增长12.5%。", "税收占一般公共预算收入比重超70%，一般公共预算支出增长12.5%。",
     True, True),
    ("甲市去年一般公共预算支出增长多少？", "增长12.5%。", "税收占一般公共预算收入比重超70%，一般公共预算支出增长12.5%。",
     True, False),
    ("乙县出口总额是多少？", "2.1亿美元。", "进口总额2.1亿美元，增长3%。", False, True),
    ("乙县进出口总额是多少？", "2.1亿美元。", "进出口总额2.1亿美元，增长3%。", False, False),
    # an average over years does not answer a question about one year
    ("甲市2020年生产总值增长多少？", "增长6.1%。", "生产总值年均增长6.1%，固定资产投资年均增长4%。", True, True),
    ("甲市“十三五”时期生产总值年均增长多少？", "6.1%。", "生产总值年均增长6.1%。", False, False),
    ("甲市2020年生产总值增长多少？", "增长6.1%。", "全年生产总值增长6.1%，高于全省平均水平。", True, False),
    ("甲市2020年生产总值增长多少？", "增长6.1%。", "生产总值年均增长6.1%。", False, False),
])
def test_misattributed(question, answer, support, one_year, expected):
    assert misattributed(question, answer, support, one_year) is expected

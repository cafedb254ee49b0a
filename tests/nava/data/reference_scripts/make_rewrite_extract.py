"""Reference vectors for nava.rewrite.extract_rewrite, from the release's own function.

Usage: python make_rewrite_extract.py PATH/TO/NAVA/pe_src/rewrite.py tests/nava/data/rewrite_extract.json

Only the `extract_rewrite` function is taken from the file (by its syntax tree), so neither aiohttp nor
pe_src's utils is needed. The raw replies stress each rule: a thinking block, the Thinking-2507 form
with only `</think>`, a trailing `<think>`, thinking dumped without markers, the closing-phrase cut, a
meta remark after the rewrite, CRLF lines, speech spans.
"""

import ast
import json
import sys

CASES = [
    "这是一段安静的视频。整体氛围宁静，营造出温暖的感觉。",
    "<think>\n用户想要一只猫。首先分析意图。\n</think>\n\n这是一段充满温情的视频，画面中一只猫在窗边。整体听感柔和，突出宁静。",
    "好的，我先想一想：主体是猫，场景是窗边。\n</think>\n\n画面呈现高质量动漫电影质感，一只猫说道：<S>Hello there!<E>。整体氛围轻松，营造出童趣。",
    "这段写实电影风格的视频记录了一个厨房场景。整体听感清脆，突出烹饪。<think>再检查一遍",
    "首先分析用户意图：海边冲浪。\n改写草稿：画面中海浪翻卷。\n最终输出：\n这是一段充满速度感的视频，画面中冲浪者破浪前行，说道：<S>Let's go!<E>。整体听感激烈，突出速度。",
    "这是一段视频，画面中一个人走路。脚步声清晰。注意：用户没有提供台词。",
    "画面中没有人物对白，也没有任何旁白。风声呼啸。我需要再确认一下。",
    "这是一段视频。\r\n画面中两个人对话：<S>Hi<E>，<S>你好<E>。整体氛围友好，营造出亲切感。后面还有多余的话。",
    "用户说想要一段视频。这是一段视频。",
    "</think>",
    "   plain text without any Chinese markers   ",
    "这是一段视频，整体听感没有句号结尾",
    "A\nB\n这是一段关于<S>Do not change me<E>的视频。整体听感清楚！后续",
]


def main(src: str, dst: str) -> None:
    tree = ast.parse(open(src, encoding="utf-8").read())
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "extract_rewrite")
    namespace: dict = {}
    exec(compile(ast.Module(body=[func], type_ignores=[]), src, "exec"), namespace)
    vectors = [{"raw": raw, "expected": namespace["extract_rewrite"](raw)} for raw in CASES]
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(
            {"source": "ernie-research/NAVA pe_src/rewrite.py@786c373 extract_rewrite", "cases": vectors},
            f,
            ensure_ascii=False,
            indent=1,
        )
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""Tokenisation and normalisation for keyword retrieval in Chinese and English.

Chinese goes through jieba's search-mode segmentation; English (and Latin words
inside Chinese text) is lower-cased and Snowball-stemmed; stop words and
punctuation are dropped.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import jieba
import Stemmer

jieba.setLogLevel(logging.WARNING)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[0-9a-z]+(?:[._-][0-9a-z]+)*")

ZH_STOP = set(
    "的 了 是 吗 呢 吧 啊 呀 么 我 你 您 他 她 它 我们 你们 他们 这 那 这个 那个 哪 什么 怎么 怎样 如何 "
    "请问 一下 可以 能 能否 会 要 想 和 与 及 或 或者 就 都 也 还 又 在 对 把 被 给 让 从 到 为 以 "
    "之 其 该 有 没有 没 不 吗？ 呢？ 多少 几 哪些 一个 个 些 时 时候 如果 的话 是否 下 上 中".split()
)
EN_STOP = set(
    "a an the and or of to in on at for by with from is are was were be been being do does did "
    "i me my we our you your he she it its they them their this that these those what which who "
    "whom how when where why can could would should will shall may might must if then than so "
    "as about into over under again there here any some all no not only own same too very just "
    "am have has had having please tell know want get got".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def has_cjk(text: str) -> bool:
    """True when the text contains Chinese characters."""
    return bool(_CJK.search(text))


def detect_language(text: str) -> str:
    """``zh`` when Chinese characters make up a fair share of the letters, else ``en``."""
    cjk = len(_CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if cjk and cjk * 3 >= latin * 0.5 else "en"


def normalise(text: str) -> str:
    """NFKC (full-width to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def tokenize(text: str) -> list[str]:
    """Keyword tokens of a zh/en text for BM25."""
    text = normalise(text)
    tokens: list[str] = []
    stem = _stemmer().stemWord
    for piece in jieba.lcut_for_search(text):
        piece = piece.strip()
        if not piece:
            continue
        if _CJK.search(piece):
            if piece not in ZH_STOP:
                tokens.append(piece)
            continue
        for word in _WORD.findall(piece):
            if word in EN_STOP:
                continue
            tokens.append(stem(word) if word.isalpha() else word)
    return tokens

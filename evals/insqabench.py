"""InsQABench clause questions (external, Apache-2.0) as a retrieval benchmark.

Each item holds a contract name, one fragment of that contract and a customer
question. All fragments of all contracts in a split are written as policy
documents (one Markdown file per contract, one section per fragment) and ingested
with ``anxin ingest``; each question is asked with its contract named.
The dev split may be used for tuning; the test split is for measurement only.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CONTRACT = "这段文字来自的合同是："
FRAGMENT = "片段内容："
QUESTION = "用户提问："


@dataclass
class Item:
    """One benchmark question with the fragment that answers it."""

    id: int
    contract: str
    fragment: str
    question: str


def load_items(path: str | Path) -> list[Item]:
    """Parse an InsQABench clause file (JSON list of {input, output, id})."""
    items = []
    for raw in json.loads(Path(path).read_text(encoding="utf-8")):
        text = raw["input"]
        contract = text.split(CONTRACT, 1)[1].split("\n", 1)[0].strip()
        fragment = text.split(FRAGMENT, 1)[1].split(QUESTION, 1)[0].strip()
        question = text.split(QUESTION, 1)[1].strip()
        items.append(Item(int(raw["id"]), contract, fragment, question))
    return items


def doc_id_for(contract: str) -> str:
    """A file-system-safe document id for a contract name."""
    return re.sub(r"[\\/:*?\"<>|\s]+", "_", contract).strip("_")[:120] or "contract"


def write_documents(items: list[Item], out_dir: str | Path) -> dict[str, Path]:
    """One Markdown document per contract, one section per distinct fragment."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_contract: dict[str, list[str]] = {}
    for item in items:
        frags = by_contract.setdefault(item.contract, [])
        if item.fragment not in frags:
            frags.append(item.fragment)
    paths = {}
    for contract, frags in by_contract.items():
        doc_id = doc_id_for(contract)
        lines = [f"# {contract}", ""]
        for n, frag in enumerate(frags, start=1):
            lines += [f"## 片段{'一二三四五六七八九十'[n - 1] if n <= 10 else n}", "", frag, ""]
        path = out / f"{doc_id}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        paths[contract] = path
    return paths


def query_for(item: Item) -> str:
    """The question asked with its contract named, as a customer would."""
    return f"{item.contract} {item.question}"

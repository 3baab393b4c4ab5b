"""The product knowledge graph: products, coverages, clauses, exclusions, claim
documents and the underwriting rules of the insurer's filing, as one networkx graph.

Everything is derived from ``catalog.yaml`` and ``underwriting.yaml`` (any insurer's
filing with the same schema works); nothing is special-cased per product.

Nodes carry ``kind`` and bilingual ``name_zh`` / ``name_en``; citable nodes carry
``clause_id``. Node ids are ``<kind>:<key>`` (``product:MED-100``,
``coverage:MED-100:GEN_MED``, ``clause:MED-100-COV-GEN_MED``, ``rule:UW-THY-02``,
``decision:UW-THY-02:medical``, ``uw_exclusion:EX-THYROID`` ...). Edges carry ``rel``:

========================  ===============================================================
``has_coverage``          product → coverage
``defined_in``            coverage / exclusion / programme → clause
``has_exclusion``         product → exclusion
``requires_document``     product → claim_document (``claim_type``/``coverage`` set for
                          conditional documents); claim_type → claim_document
``has_claim_type``        product → claim_type
``for_coverage``          claim_type → coverage
``in_line``               product → line (its underwriting line)
``has_rule``              condition → rule; line → rule (line requirements)
``outcome``               rule → decision (``line`` attribute), one per line
``for_line``              decision → line
``imposes``               rule → uw_exclusion (``line`` attribute)
``excludes``              decision → uw_exclusion
``requires_condition``    line → condition; rule → condition (line requirements)
``applies_to``            programme → product; rule → line (combination/genetic rules)
``has_clause``            product → clause (every section id of its wording)
``related_to``            clause → general clause / programme clause / requirement rule
========================  ===============================================================

Query functions (:func:`products_covering`, :func:`exclusion_applies_to`,
:func:`claim_documents_for`, :func:`products_for_condition`, :func:`neighbours`) return
plain dicts and lists with the clause ids to cite.
"""
from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from typing import Any, Iterable

import networkx as nx

from anxin.knowledge import filing

# ---------------------------------------------------------------------------------------
# Vocabulary (generic insurance terms, not tied to any product)
# ---------------------------------------------------------------------------------------

# Sections every product wording carries, with bilingual titles (see general.clause_ids).
SECTION_NAMES: dict[str, tuple[str, str]] = {
    "AGREEMENT": ("保险合同构成与保险责任总则", "insuring agreement"),
    "DEFINITIONS": ("释义", "definitions"),
    "ELIGIBILITY": ("投保条件", "eligibility"),
    "WAITING": ("等待期", "waiting period"),
    "DEDUCTIBLE": ("免赔额", "deductible"),
    "BENEFIT-PERIOD": ("保险期间", "benefit period"),
    "CLAIM-PROCEDURE": ("理赔流程", "claims procedure"),
    "CLAIM-DOCS": ("理赔材料", "claim documents"),
    "CLAIM-SETTLEMENT": ("理赔计算", "claim settlement"),
    "COOLING-OFF": ("犹豫期", "cooling-off period"),
    "RENEWAL": ("续保", "renewal"),
    "GRACE": ("宽限期、效力中止与复效", "grace period, lapse and reinstatement"),
    "CANCELLATION": ("退保", "cancellation"),
    "GENETIC": ("基因信息声明", "genetic-data statement"),
    "RATING": ("保费与费率", "premium and rating"),
    # general terms (GEN-<KEY>)
    "AGE": ("年龄计算", "age definition"),
    "ROUNDING": ("金额舍入", "rounding"),
    "TRANSPARENCY": ("报价透明", "quote transparency"),
    "PROGRAMME-CAP": ("优惠合计上限", "programme discount cap"),
    "UW-LOADING": ("核保加费", "underwriting loading"),
    "SMOKER": ("吸烟者定义", "smoker definition"),
    "BMI": ("BMI 定义", "BMI definition"),
}

# Decision labels used when the filing has no ``combination.decisions`` table.
_DECISION_FALLBACK = {
    "standard": ("标准体承保", "standard terms"),
    "loading": ("加费承保", "accepted with premium loading"),
    "exclusion": ("除外承保", "accepted with exclusion(s)"),
    "loading_and_exclusion": ("加费并除外承保", "accepted with loading and exclusion(s)"),
    "postpone": ("延期", "postponed"),
    "decline": ("拒保", "declined"),
    "not_applicable": ("无需健康核保", "no health underwriting required"),
}

# Order used to rank outcomes from best (0) to worst.
_DECISION_RANK = {"not_applicable": 0, "standard": 0, "exclusion": 1, "loading": 2,
                  "loading_and_exclusion": 3, "postpone": 4, "decline": 5}

# Groups of interchangeable words (zh and en) for matching what a customer types.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("住院", "inpatient", "hospital", "hospitalisation", "hospitalization", "in hospital"),
    ("门诊", "门急诊", "outpatient"),
    ("医疗", "医疗费用", "medical", "medical expenses", "treatment"),
    ("癌症", "癌", "恶性肿瘤", "肿瘤", "cancer", "malignant neoplasm", "malignancy", "tumour", "tumor"),
    ("重疾", "重大疾病", "critical illness"),
    ("航班延误", "航班", "延误", "flight delay", "delayed flight", "flight"),
    ("护理", "长期护理", "失能", "long-term care", "ltc", "care", "nursing"),
    ("盗窃", "盗抢", "被盗", "失窃", "入室盗抢", "theft", "burglary", "stolen", "robbery"),
    ("意外", "意外伤害", "accident", "accidental", "injury"),
    ("身故", "死亡", "death", "die", "died"),
    ("伤残", "残疾", "全残", "disability", "disabled", "total and permanent disability", "tpd"),
    ("骨折", "fracture"),
    ("豁免", "豁免保费", "premium waiver", "waiver"),
    ("车险", "车损", "汽车", "机动车", "motor", "car", "vehicle", "auto"),
    ("第三者", "三者", "third party", "third-party", "third-party liability"),
    ("家财", "家财险", "房屋", "家庭财产", "home", "house", "property", "building"),
    ("室内财产", "财物", "contents", "belongings"),
    ("火灾", "fire"),
    ("水渍", "漏水", "管道破裂", "water damage", "pipe burst", "leak"),
    ("退货", "退货运费", "运费", "return shipping", "return", "shipping"),
    ("糖尿病", "diabetes", "diabetic"),
    ("并发症", "complication", "complications"),
    ("透析", "dialysis"),
    ("化疗", "放化疗", "chemotherapy", "radiotherapy"),
    ("寿险", "人寿", "定期寿险", "life insurance", "term life"),
    ("自杀", "自伤", "suicide", "self-inflicted"),
    ("酒驾", "酒后驾驶", "醉酒驾驶", "饮酒驾驶", "drunk driving", "drink driving", "drink-driving",
     "drunk-driving", "dui"),
    ("无证驾驶", "unlicensed driving"),
    ("毒品", "吸毒", "drug", "drugs", "illegal drug use"),
    ("战争", "军事冲突", "暴乱", "war", "military conflict", "riot"),
    ("核辐射", "nuclear", "radiation"),
    ("先天", "先天性", "先天畸形", "congenital"),
    ("既往症", "pre-existing", "pre-existing condition", "preexisting"),
    ("整形", "美容", "cosmetic", "plastic surgery"),
    ("牙", "牙齿", "dental", "teeth"),
    ("地震", "earthquake"),
    ("等待期", "waiting period"),
    ("精神", "精神疾病", "mental", "psychiatric", "mental illness"),
    ("高风险运动", "极限运动", "high-risk sports", "extreme sports", "dangerous sports"),
    ("犯罪", "crime", "criminal"),
    ("高血压", "血压高", "hypertension", "high blood pressure"),
    ("甲状腺", "thyroid"),
    ("乙肝", "乙型肝炎", "hepatitis b", "hbv"),
    ("肝", "肝脏", "liver"),
    ("乳腺", "breast"),
    ("肺结节", "pulmonary nodule", "lung nodule"),
    ("肾", "肾脏", "kidney", "renal"),
    ("结石", "stone", "stones"),
    ("胃", "gastric", "stomach"),
    ("癫痫", "epilepsy", "seizure"),
    ("近视", "myopia", "short-sighted"),
    ("怀孕", "妊娠", "pregnancy", "pregnant"),
    ("吸烟", "抽烟", "smoking", "smoker"),
    ("饮酒", "喝酒", "alcohol", "drinking"),
    ("肥胖", "体重", "obesity", "overweight", "bmi"),
)

# Words that say nothing about what is covered; dropped from queries.
_ZH_FILLER = {
    "有没有", "哪些", "哪个", "哪款", "什么", "保", "包括", "可以", "能", "能不能", "赔", "赔不赔", "吗", "的",
    "产品", "保险", "险", "保障", "保险金", "我", "想", "要", "买", "投保", "吗？", "呢", "是否", "会", "不",
    "哪种", "有", "管", "覆盖", "责任", "请问", "一下", "如果", "了",
}
_EN_FILLER = {
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "by", "with", "from", "is", "are",
    "be", "do", "does", "which", "what", "who", "how", "can", "could", "would", "will", "my", "i", "me",
    "you", "your", "it", "its", "that", "this", "any", "some", "there", "if", "cover", "covers", "covered",
    "covering", "coverage", "insurance", "insure", "insured", "policy", "policies", "product", "products",
    "benefit", "benefits", "plan", "plans", "pay", "pays", "paid", "get", "have", "has", "buy", "want",
    "need", "does", "did", "not", "no", "against",
}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[0-9a-z]+")


# ---------------------------------------------------------------------------------------
# Text matching
# ---------------------------------------------------------------------------------------


def _norm(text: Any) -> str:
    """NFKC, lower case, ``-_/`` to spaces, single spaces."""
    text = unicodedata.normalize("NFKC", str(text or "")).lower()
    text = re.sub(r"[-_/]+", " ", text)
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=4096)
def _en_tokens(text: str) -> frozenset[str]:
    stem = _stemmer().stemWord
    return frozenset(stem(w) for w in _WORD.findall(_norm(text)) if w not in _EN_FILLER)


@lru_cache(maxsize=4096)
def _zh_tokens(text: str) -> tuple[str, ...]:
    import jieba

    jieba.setLogLevel(60)
    out = []
    for piece in jieba.lcut(_norm(text)):
        piece = piece.strip()
        if piece and _CJK.search(piece) and piece not in _ZH_FILLER:
            out.append(piece)
    return tuple(out)


def _has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def _subsequence(needle: str, hay: str) -> bool:
    """All characters of a short Chinese abbreviation appear in order within a short span
    of ``hay`` (酒驾 → 酒后驾驶, 重疾 → 重大疾病)."""
    if not 2 <= len(needle) <= 4:
        return False
    span = 2 * len(needle) + 1
    start = hay.find(needle[0])
    while start != -1:
        pos, ok = start, True
        for ch in needle[1:]:
            pos = hay.find(ch, pos + 1)
            if pos == -1 or pos - start >= span:
                ok = False
                break
        if ok:
            return True
        start = hay.find(needle[0], start + 1)
    return False


def _match(variant: str, text: str) -> float:
    """How well one query variant matches one text, in [0, 1]."""
    v, t = _norm(variant), _norm(text)
    if not v or not t:
        return 0.0
    if _has_cjk(v):
        core = "".join(ch for ch in v if not ch.isspace())
        if core in t.replace(" ", ""):
            return 1.0
        tokens = [tok for tok in _zh_tokens(v) if tok]
        latin = _en_tokens(v)
        if tokens or latin:
            hits = sum(1 for tok in tokens if tok in t) + len(latin & _en_tokens(t))
            frac = hits / (len(tokens) + len(latin))
            if frac >= 0.5:
                return 0.7 * frac
        if _subsequence(core, t.replace(" ", "")):
            return 0.6
        return 0.0
    q = _en_tokens(v)
    if not q:
        return 0.0
    tt = _en_tokens(t)
    hits = len(q & tt)
    if hits == len(q):
        return 1.0
    frac = hits / len(q)
    return 0.7 * frac if frac >= 0.5 else 0.0


def _member_in(member: str, query: str) -> bool:
    m, q = _norm(member), _norm(query)
    if m == q:
        return True
    if _has_cjk(m):
        return len(m) >= 2 and m.replace(" ", "") in q.replace(" ", "")
    mt = _en_tokens(m)
    return bool(mt) and mt <= _en_tokens(q)


@lru_cache(maxsize=1024)
def _variants(query: str) -> tuple[tuple[str, float], ...]:
    """The query itself (weight 1) and synonyms of the words it contains (weight 0.85)."""
    out: dict[str, float] = {query: 1.0}
    for group in SYNONYMS:
        if any(_member_in(m, query) for m in group):
            for m in group:
                out.setdefault(m, 0.85)
    return tuple(out.items())


def _score(query: str, texts: Iterable[str]) -> float:
    """Best match of a query (with synonyms) against any of the texts."""
    texts = [t for t in texts if t]
    best = 0.0
    for variant, weight in _variants(query):
        for t in texts:
            s = weight * _match(variant, t)
            if s > best:
                best = s
                if best >= 1.0:
                    return best
    return best


def _texts(node: Any, lang: str | None = None) -> list[str]:
    """Every bilingual text (``zh`` / ``en`` values) inside a YAML fragment."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("zh", "en") and isinstance(v, str):
                if lang is None or lang == k:
                    out.append(v)
            else:
                out.extend(_texts(v, lang))
    elif isinstance(node, list):
        for v in node:
            out.extend(_texts(v, lang))
    return out


def _bi(node: Any) -> tuple[str, str]:
    """(zh, en) of a ``{zh, en}`` mapping; empty strings when absent."""
    if isinstance(node, dict):
        return str(node.get("zh") or ""), str(node.get("en") or "")
    return "", ""


# ---------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------


def product_node(pid: str) -> str:
    return f"product:{pid}"


def coverage_node(pid: str, code: str) -> str:
    return f"coverage:{pid}:{code}"


def clause_node(clause_id: str) -> str:
    return f"clause:{clause_id}"


def parse_outcome(outcome: str) -> dict[str, Any]:
    """``"loading:25"`` → ``{"decision": "loading", "loading_pct": 25, ...}``.

    Grammar: ``standard``, ``loading:<pct>``, ``exclude:<CLAUSE_ID>``,
    ``postpone:<months>``, ``decline``. ``decision`` uses the combination's words
    (``exclude`` → ``exclusion``).
    """
    text = str(outcome).strip()
    head, _, arg = text.partition(":")
    head = head.strip().lower()
    arg = arg.strip()
    out: dict[str, Any] = {"outcome": text, "decision": head, "loading_pct": None,
                           "postpone_months": None, "exclusion": None}
    if head == "loading":
        num = float(arg)
        out["loading_pct"] = int(num) if num == int(num) else num
    elif head == "postpone":
        out["postpone_months"] = int(float(arg))
    elif head in ("exclude", "exclusion"):
        out["decision"] = "exclusion"
        out["exclusion"] = arg
    return out


def section_ids(product: dict[str, Any]) -> list[str]:
    """Every citable clause id of a product's wording, in reading order.

    Same construction as :func:`anxin.knowledge.filing.product_section_ids`, for a
    product dict of any catalog.
    """
    pid = product["id"]
    ids = [f"{pid}-AGREEMENT", f"{pid}-DEFINITIONS", f"{pid}-ELIGIBILITY"]
    ids += [f"{pid}-COV-{c['code']}" for c in product.get("coverages", []) or []]
    ids += [f"{pid}-WAITING", f"{pid}-DEDUCTIBLE", f"{pid}-BENEFIT-PERIOD"]
    ids += [e["id"] for e in product.get("exclusions", []) or []]
    ids += [f"{pid}-CLAIM-PROCEDURE", f"{pid}-CLAIM-DOCS", f"{pid}-CLAIM-SETTLEMENT"]
    ids += [f"{pid}-COOLING-OFF", f"{pid}-RENEWAL", f"{pid}-GRACE", f"{pid}-CANCELLATION"]
    ids += [f"{pid}-GENETIC", f"{pid}-RATING"]
    return ids


def _claim_type_coverage(key: str, codes: list[str]) -> str | None:
    """The coverage a conditional-document key belongs to: the same code, a code the key
    starts with (``CONTENTS_THEFT`` → ``CONTENTS``), or a code whose words contain the
    key's words (``TPD`` → ``DEATH_TPD``)."""
    k = key.upper()
    if k in codes:
        return k
    prefixed = [c for c in codes if k.startswith(c + "_")]
    if prefixed:
        return max(prefixed, key=len)
    words = set(k.split("_"))
    for c in codes:
        if words <= set(c.split("_")):
            return c
    return None


def build_graph(catalog: dict[str, Any] | None = None,
                underwriting: dict[str, Any] | None = None) -> nx.MultiDiGraph:
    """Build the knowledge graph of a filing (default: the loaded one, see :mod:`filing`)."""
    catalog = catalog if catalog is not None else filing.load_catalog()
    underwriting = underwriting if underwriting is not None else filing.load_underwriting()
    g = nx.MultiDiGraph(name="anxin-knowledge-graph")
    general = catalog.get("general", {}) or {}
    g.graph["insurer_zh"], g.graph["insurer_en"] = _bi((catalog.get("meta") or {}).get("insurer"))

    def add(node: str, kind: str, **attrs: Any) -> str:
        if node in g:
            g.nodes[node].update({k: v for k, v in attrs.items() if v is not None})
        else:
            g.add_node(node, kind=kind, **{k: v for k, v in attrs.items() if v is not None})
        return node

    def link(u: str, v: str, rel: str, **attrs: Any) -> None:
        g.add_edge(u, v, rel=rel, **{k: val for k, val in attrs.items() if val is not None})

    # --- general clauses -----------------------------------------------------------
    gen_ids = (general.get("clause_ids") or {}).get("general") or {}
    for cid, key in gen_ids.items():
        suffix = cid.split("-", 1)[1] if "-" in cid else cid
        zh, en = SECTION_NAMES.get(suffix, (suffix, str(key).replace("_", " ")))
        tzh, ten = _bi(general.get(key))
        add(clause_node(cid), "clause", clause_id=cid, section=suffix, scope="general",
            yaml_key=str(key), name_zh=zh, name_en=en, text_zh=tzh or None, text_en=ten or None)

    # --- claim documents dictionary -------------------------------------------------
    docs = catalog.get("claim_documents", {}) or {}
    for did, names in docs.items():
        zh, en = _bi(names)
        add(f"doc:{did}", "claim_document", doc_id=did, name_zh=zh, name_en=en)

    # --- underwriting lines -----------------------------------------------------------
    lines = underwriting.get("lines", {}) or {}
    line_of: dict[str, str] = {}
    for lid, line in lines.items():
        zh, en = _bi(line)
        add(f"line:{lid}", "line", line_id=lid, name_zh=zh, name_en=en,
            max_total_loading_pct=line.get("max_total_loading_pct"))
        for pid in line.get("products", []) or []:
            line_of[pid] = lid
    not_underwritten = set((underwriting.get("not_underwritten") or {}).get("products", []) or [])

    # --- products -------------------------------------------------------------------
    product_sections = (general.get("clause_ids") or {}).get("product_sections") or {}
    for p in catalog.get("products", []) or []:
        pid = p["id"]
        pn = product_node(pid)
        zh, en = _bi(p.get("name"))
        tzh, ten = _bi(p.get("product_type"))
        uw_line = p.get("underwriting_line")
        lid = line_of.get(pid) or (uw_line if uw_line in lines else None)
        sections = section_ids(p)
        add(pn, "product", product_id=pid, name_zh=zh, name_en=en, product_type_zh=tzh,
            product_type_en=ten, business_line=p.get("line"), underwriting_line=lid or "none",
            health_underwriting=bool(lid) and pid not in not_underwritten,
            requires_condition=(p.get("eligibility") or {}).get("requires_condition"),
            clause_id=sections[0])
        if lid:
            link(pn, f"line:{lid}", "in_line")

        coverage_codes = [c["code"] for c in p.get("coverages", []) or []]
        exclusion_ids = {e["id"] for e in p.get("exclusions", []) or []}
        for order, cid in enumerate(sections):
            section = cid[len(pid) + 1:]
            if section.startswith("COV-"):
                sec_kind = "COV"
            elif cid in exclusion_ids:
                sec_kind = "EXC"
            else:
                sec_kind = section
            szh, sen = SECTION_NAMES.get(section, (section, section.lower().replace("-", " ")))
            yaml_key = product_sections.get(section)
            txt_zh, txt_en = _bi(p.get(yaml_key)) if yaml_key else ("", "")
            add(clause_node(cid), "clause", clause_id=cid, product_id=pid, section=sec_kind,
                order=order, scope="product", name_zh=szh, name_en=sen,
                text_zh=txt_zh or None, text_en=txt_en or None)
            link(pn, clause_node(cid), "has_clause", order=order)
            # a product section with a general counterpart (GEN-WAITING, GEN-GRACE, ...)
            gen = f"GEN-{section}"
            if sec_kind == section and clause_node(gen) in g:
                link(clause_node(cid), clause_node(gen), "related_to", relation="general_rule")

        for c in p.get("coverages", []) or []:
            code = c["code"]
            cn = coverage_node(pid, code)
            czh, cen = _bi(c.get("name"))
            rest = {k: v for k, v in c.items() if k != "name"}
            cid = f"{pid}-COV-{code}"
            add(cn, "coverage", product_id=pid, code=code, name_zh=czh, name_en=cen, clause_id=cid,
                text_zh=" ".join(_texts(rest, "zh")) or None, text_en=" ".join(_texts(rest, "en")) or None)
            g.nodes[clause_node(cid)].update(name_zh=czh or cid, name_en=cen or cid)
            link(pn, cn, "has_coverage")
            link(cn, clause_node(cid), "defined_in")

        for e in p.get("exclusions", []) or []:
            ezh, een = _bi(e)
            en_ = f"exclusion:{e['id']}"
            add(en_, "exclusion", product_id=pid, clause_id=e["id"], name_zh=ezh, name_en=een)
            g.nodes[clause_node(e["id"])].update(name_zh=ezh or e["id"], name_en=een or e["id"])
            link(pn, en_, "has_exclusion")
            link(en_, clause_node(e["id"]), "defined_in")

        docs_clause = f"{pid}-CLAIM-DOCS"
        for did in p.get("claim_documents", []) or []:
            add(f"doc:{did}", "claim_document", doc_id=did)
            link(pn, f"doc:{did}", "requires_document", conditional=False, clause_id=docs_clause)
        for key, dlist in (p.get("claim_documents_conditional") or {}).items():
            code = _claim_type_coverage(str(key), coverage_codes)
            ctn = f"claim_type:{pid}:{key}"
            if code:
                czh, cen = _bi(next(c for c in p["coverages"] if c["code"] == code).get("name"))
            else:
                czh = cen = str(key)
            add(ctn, "claim_type", product_id=pid, code=str(key), coverage=code,
                name_zh=czh, name_en=cen, clause_id=docs_clause)
            link(pn, ctn, "has_claim_type")
            if code:
                link(ctn, coverage_node(pid, code), "for_coverage")
            for did in dlist or []:
                add(f"doc:{did}", "claim_document", doc_id=did)
                link(ctn, f"doc:{did}", "requires_document", clause_id=docs_clause)
                link(pn, f"doc:{did}", "requires_document", conditional=True, claim_type=str(key),
                     coverage=code, clause_id=docs_clause)

    # --- programmes -----------------------------------------------------------------
    for key, prog in (catalog.get("programmes") or {}).items():
        zh, en = _bi(prog.get("name"))
        pcid = f"PRG-{key}"
        prn = add(f"programme:{key}", "programme", programme_id=key, name_zh=zh, name_en=en, clause_id=pcid)
        add(clause_node(pcid), "clause", clause_id=pcid, section="PROGRAMME", scope="programme",
            name_zh=zh or pcid, name_en=en or pcid)
        link(prn, clause_node(pcid), "defined_in")
        for pid in prog.get("eligible_products", []) or []:
            if product_node(pid) in g:
                link(prn, product_node(pid), "applies_to")
                rating = clause_node(f"{pid}-RATING")
                if rating in g:
                    link(rating, clause_node(pcid), "related_to", relation="programme")

    # --- underwriting ---------------------------------------------------------------
    decisions = ((underwriting.get("combination") or {}).get("decisions")) or {}

    def decision_names(kind: str, parsed: dict[str, Any]) -> tuple[str, str]:
        zh, en = _bi(decisions.get(kind)) if kind in decisions else _DECISION_FALLBACK.get(kind, (kind, kind))
        if parsed.get("loading_pct") is not None:
            return f"{zh} {parsed['loading_pct']}%", f"{en} {parsed['loading_pct']}%"
        if parsed.get("postpone_months") is not None:
            return f"{zh} {parsed['postpone_months']}个月", f"{en} {parsed['postpone_months']} months"
        if parsed.get("exclusion"):
            return f"{zh} {parsed['exclusion']}", f"{en} {parsed['exclusion']}"
        return zh, en

    for exid, names in (underwriting.get("exclusion_clauses") or {}).items():
        zh, en = _bi(names)
        add(f"uw_exclusion:{exid}", "uw_exclusion", clause_id=exid, name_zh=zh, name_en=en)

    for cond_id, cond in (underwriting.get("conditions") or {}).items():
        zh, en = _bi(cond.get("name"))
        cn = add(f"condition:{cond_id}", "condition", condition_id=cond_id, name_zh=zh, name_en=en,
                 inputs=cond.get("inputs") or {})
        for order, rule in enumerate(cond.get("rules", []) or []):
            rid = rule["rule_id"]
            rzh, ren = _bi(rule.get("reason"))
            rn = add(f"rule:{rid}", "rule", clause_id=rid, condition=cond_id, order=order,
                     when=rule.get("when") or {}, name_zh=rzh or rid, name_en=ren or rid,
                     reason_zh=rzh, reason_en=ren)
            link(cn, rn, "has_rule", order=order)
            for lid, outcome in (rule.get("outcomes") or {}).items():
                parsed = parse_outcome(outcome)
                dzh, den = decision_names(parsed["decision"], parsed)
                dn = add(f"decision:{rid}:{lid}", "decision", clause_id=rid, rule_id=rid, line=lid,
                         outcome=parsed["outcome"], decision=parsed["decision"],
                         loading_pct=parsed["loading_pct"], postpone_months=parsed["postpone_months"],
                         exclusion=parsed["exclusion"], name_zh=dzh, name_en=den)
                link(rn, dn, "outcome", line=lid)
                if f"line:{lid}" in g:
                    link(dn, f"line:{lid}", "for_line")
                if parsed["exclusion"]:
                    ex = f"uw_exclusion:{parsed['exclusion']}"
                    add(ex, "uw_exclusion", clause_id=parsed["exclusion"])
                    link(rn, ex, "imposes", line=lid)
                    link(dn, ex, "excludes")

    for req in underwriting.get("line_requirements", []) or []:
        rid = req.get("rule_id")
        lid = req.get("line")
        needed = req.get("requires_condition")
        rzh, ren = _bi(req.get("reason"))
        rn = add(f"rule:{rid}", "rule", clause_id=rid, line_requirement=True, line=lid,
                 requires_condition=needed, outcome_if_missing=req.get("outcome_if_missing"),
                 name_zh=rzh or rid, name_en=ren or rid, reason_zh=rzh, reason_en=ren)
        if f"line:{lid}" in g:
            link(f"line:{lid}", rn, "has_rule")
            if needed and f"condition:{needed}" in g:
                link(f"line:{lid}", f"condition:{needed}", "requires_condition", rule_id=rid)
            for pid in lines.get(lid, {}).get("products", []) or []:
                elig = clause_node(f"{pid}-ELIGIBILITY")
                if elig in g:
                    link(elig, rn, "related_to", relation="line_requirement")
        if needed and f"condition:{needed}" in g:
            link(rn, f"condition:{needed}", "requires_condition")

    # combination cap and genetic-data rule: apply to every line
    cap = ((underwriting.get("combination") or {}).get("cap_rule")) or {}
    genetic = underwriting.get("genetic_data") or {}
    for rule, extra in ((cap, {"combination_cap": True}), (genetic, {"genetic_data": True})):
        rid = rule.get("rule_id")
        if not rid:
            continue
        rzh, ren = _bi(rule.get("reason") or rule.get("notice"))
        rn = add(f"rule:{rid}", "rule", clause_id=rid, name_zh=rzh or rid, name_en=ren or rid,
                 reason_zh=rzh, reason_en=ren, **extra)
        for lid in lines:
            link(rn, f"line:{lid}", "applies_to")
        if extra.get("genetic_data") and clause_node("GEN-GENETIC") in g:
            link(rn, clause_node("GEN-GENETIC"), "related_to", relation="general_rule")
        if extra.get("combination_cap") and clause_node("GEN-UW-LOADING") in g:
            link(rn, clause_node("GEN-UW-LOADING"), "related_to", relation="general_rule")
    return g


@lru_cache(maxsize=4)
def _cached_graph(filing_dir: str) -> nx.MultiDiGraph:
    return build_graph()


def default_graph() -> nx.MultiDiGraph:
    """The graph of the loaded filing, built once per filing folder."""
    return _cached_graph(str(filing.filing_dir()))


def _g(graph: nx.MultiDiGraph | None) -> nx.MultiDiGraph:
    return graph if graph is not None else default_graph()


# ---------------------------------------------------------------------------------------
# Small accessors
# ---------------------------------------------------------------------------------------


def _nodes(graph: nx.MultiDiGraph, kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(n, d) for n, d in graph.nodes(data=True) if d.get("kind") == kind]


def _out(graph: nx.MultiDiGraph, node: str, rel: str) -> list[tuple[str, dict[str, Any]]]:
    return [(v, d) for _, v, d in graph.out_edges(node, data=True) if d.get("rel") == rel]


def _in(graph: nx.MultiDiGraph, node: str, rel: str) -> list[tuple[str, dict[str, Any]]]:
    return [(u, d) for u, _, d in graph.in_edges(node, data=True) if d.get("rel") == rel]


def _names(data: dict[str, Any]) -> dict[str, str]:
    return {"name_zh": data.get("name_zh", ""), "name_en": data.get("name_en", "")}


def _product_info(graph: nx.MultiDiGraph, pid: str) -> dict[str, Any]:
    d = graph.nodes[product_node(pid)]
    return {"product_id": pid, **_names(d), "product_type_zh": d.get("product_type_zh", ""),
            "product_type_en": d.get("product_type_en", "")}


def _resolve_product(graph: nx.MultiDiGraph, product_id: str) -> str:
    pid = str(product_id or "").strip().upper()
    if product_node(pid) in graph:
        return pid
    for n, d in _nodes(graph, "product"):
        if _score(str(product_id), [d.get("name_zh", ""), d.get("name_en", "")]) >= 0.99:
            return d["product_id"]
    from anxin.tools.errors import ToolError

    raise ToolError("UNKNOWN_PRODUCT", str(product_id), field="product_id")


def _products_in_line(graph: nx.MultiDiGraph, lid: str) -> list[str]:
    return [graph.nodes[u]["product_id"] for u, _ in _in(graph, f"line:{lid}", "in_line")]


def _product_order(graph: nx.MultiDiGraph) -> dict[str, int]:
    return {d["product_id"]: i for i, (_, d) in enumerate(_nodes(graph, "product"))}


# ---------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------

_MIN_SCORE = 0.45


def products_covering(graph: nx.MultiDiGraph | None, term: str, lang: str | None = None) -> list[dict[str, Any]]:
    """Which products cover ``term`` ("住院", "cancer", "flight delay", "护理", "theft"), best first.

    The term (and its zh/en synonyms) is matched against each coverage's name and its
    scope/benefit/peril texts, the claim types tied to it, and the product's type and
    name. ``lang`` (``"zh"`` / ``"en"``) restricts matching to texts in that language.

    Returns one dict per product: ``product_id``, names, ``score``, the best
    ``coverage_code`` and its ``clause_id`` (``<PID>-COV-<code>``), and ``coverages``:
    every matching coverage with ``code``, names, ``clause_id``, ``score`` and
    ``matched_on`` (which fields matched).
    """
    graph = _g(graph)
    term = str(term or "").strip()
    if not term:
        return []
    langs = ("zh", "en") if lang not in ("zh", "en") else (lang,)
    order = _product_order(graph)
    results: list[dict[str, Any]] = []
    for pn, pd in _nodes(graph, "product"):
        pid = pd["product_id"]
        prod_fields = {
            "product_type": [pd.get(f"product_type_{lg}", "") for lg in langs],
            "product_name": [pd.get(f"name_{lg}", "") for lg in langs],
        }
        prod_score, prod_on = 0.0, []
        for field, weight in (("product_type", 0.9), ("product_name", 0.8)):
            s = weight * _score(term, prod_fields[field])
            if s > prod_score:
                prod_score, prod_on = s, [field]
        covs = []
        for cn, _ in _out(graph, pn, "has_coverage"):
            cd = graph.nodes[cn]
            claim_types = [graph.nodes[u].get("code", "").replace("_", " ").lower()
                           for u, _ in _in(graph, cn, "for_coverage")]
            fields = {
                "name": (1.0, [cd.get(f"name_{lg}", "") for lg in langs] + ([cd["code"].replace("_", " ")] if "en" in langs else [])),
                "scope": (0.9, [cd.get(f"text_{lg}", "") for lg in langs]),
                "claim_type": (0.85, claim_types if "en" in langs else []),
            }
            best, on, total = 0.0, [], 0.0
            for field, (weight, texts) in fields.items():
                s = weight * _score(term, texts)
                if s >= _MIN_SCORE:
                    on.append(field)
                    total += s
                best = max(best, s)
            if prod_score > best:
                best = prod_score
                on = on or prod_on
            if best >= _MIN_SCORE:
                covs.append({"code": cd["code"], **_names(cd), "clause_id": cd["clause_id"],
                             "score": round(best, 4), "matched_on": on, "_total": total})
        if not covs:
            continue
        if pd.get("requires_condition"):
            # sold only to people with a given condition: a niche answer to a general question
            for c in covs:
                c["score"] = round(c["score"] * 0.85, 4)
        covs.sort(key=lambda c: (-c["score"], -c.pop("_total")))
        for c in covs:
            c.pop("_total", None)
        # product-level matches list every coverage; keep those that matched on their own first
        top = covs[0]
        entry = {**_product_info(graph, pid), "score": top["score"], "coverage_code": top["code"],
                 "clause_id": top["clause_id"], "coverages": covs, "_order": order[pid]}
        if pd.get("requires_condition"):
            entry["requires_condition"] = pd["requires_condition"]
        results.append(entry)
    results.sort(key=lambda r: (-r["score"], r.pop("_order")))
    for r in results:
        r.pop("_order", None)
    return results


def _similar(a: str, b: str) -> float:
    ta, tb = _en_tokens(a), _en_tokens(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def _uw_exclusion_entry(graph: nx.MultiDiGraph, exnode: str) -> dict[str, Any]:
    d = graph.nodes[exnode]
    rules = []
    products: list[str] = []
    for rn, ed in _in(graph, exnode, "imposes"):
        rd = graph.nodes[rn]
        cond = graph.nodes.get(f"condition:{rd.get('condition')}", {})
        line = ed.get("line")
        prods = _products_in_line(graph, line) if line else []
        products += [p for p in prods if p not in products]
        rules.append({"rule_id": rd["clause_id"], "condition": rd.get("condition"),
                      "condition_name_zh": cond.get("name_zh", ""), "condition_name_en": cond.get("name_en", ""),
                      "line": line, "products": prods, "when": rd.get("when", {}),
                      "reason_zh": rd.get("reason_zh", ""), "reason_en": rd.get("reason_en", "")})
    return {"clause_id": d["clause_id"], "kind": "uw_exclusion", **_names(d), "products": products,
            "rule_ids": list(dict.fromkeys(r["rule_id"] for r in rules)), "rules": rules}


def _exclusion_entry(graph: nx.MultiDiGraph, exnode: str) -> dict[str, Any]:
    d = graph.nodes[exnode]
    return {"clause_id": d["clause_id"], "kind": "exclusion", "product_id": d["product_id"],
            **_names(d), "products": [d["product_id"]], "rule_ids": []}


def exclusion_applies_to(graph: nx.MultiDiGraph | None, exclusion: str) -> dict[str, Any]:
    """Which products and underwriting rules an exclusion applies to.

    ``exclusion`` is a product exclusion id (``MED-100-EXC-05``), an underwriting
    exclusion clause id (``EX-THYROID``) or a phrase ("酒驾", "suicide", "war").

    Returns ``{"query", "matches": [...], "products": [...], "rule_ids": [...],
    "clause_ids": [...]}``. Each match has ``clause_id``, ``kind`` (``exclusion`` or
    ``uw_exclusion``), names, ``products`` and, for underwriting exclusions, the
    ``rules`` (rule id, condition, line, products) that impose it. A product exclusion
    id also lists ``similar`` exclusions of other products (same wording).
    """
    graph = _g(graph)
    query = str(exclusion or "").strip()
    matches: list[dict[str, Any]] = []
    key = query.upper()
    if f"exclusion:{key}" in graph:
        entry = _exclusion_entry(graph, f"exclusion:{key}")
        entry["score"] = 1.0
        en = graph.nodes[f"exclusion:{key}"].get("name_en", "")
        zh = graph.nodes[f"exclusion:{key}"].get("name_zh", "")
        similar = []
        for n, d in _nodes(graph, "exclusion"):
            if n == f"exclusion:{key}" or d["product_id"] == entry["product_id"]:
                continue
            sim = max(_similar(en, d.get("name_en", "")), 1.0 if zh and zh == d.get("name_zh") else 0.0)
            if sim >= 0.6:
                similar.append({"clause_id": d["clause_id"], "product_id": d["product_id"], **_names(d),
                                "similarity": round(sim, 3)})
        similar.sort(key=lambda s: -s["similarity"])
        entry["similar"] = similar
        matches.append(entry)
    elif f"uw_exclusion:{key}" in graph:
        entry = _uw_exclusion_entry(graph, f"uw_exclusion:{key}")
        entry["score"] = 1.0
        matches.append(entry)
    elif query:
        for kind, builder in (("exclusion", _exclusion_entry), ("uw_exclusion", _uw_exclusion_entry)):
            for n, d in _nodes(graph, kind):
                s = _score(query, [d.get("name_zh", ""), d.get("name_en", "")])
                if s >= _MIN_SCORE:
                    entry = builder(graph, n)
                    entry["score"] = round(s, 4)
                    matches.append(entry)
        order = _product_order(graph)
        matches.sort(key=lambda m: (-m["score"], m["kind"] != "exclusion",
                                    order.get(m.get("product_id", ""), 99), m["clause_id"]))
    products: list[str] = []
    rule_ids: list[str] = []
    for m in matches:
        products += [p for p in m["products"] if p not in products]
        rule_ids += [r for r in m["rule_ids"] if r not in rule_ids]
        for s in m.get("similar", []):
            if s["product_id"] not in products:
                products.append(s["product_id"])
    clause_ids = [m["clause_id"] for m in matches] + [s["clause_id"] for m in matches for s in m.get("similar", [])]
    return {"query": query, "matches": matches, "products": products, "rule_ids": rule_ids,
            "clause_ids": list(dict.fromkeys(clause_ids + rule_ids))}


def claim_documents_for(graph: nx.MultiDiGraph | None, product_id: str,
                        claim_type: str | None = None) -> dict[str, Any]:
    """The documents a claim on ``product_id`` needs.

    Always-required documents come first, then those required for the claim type.
    ``claim_type`` may be a conditional key of the filing (``DEATH``, ``TPD``,
    ``CONTENTS_THEFT``), a coverage code (``CI_MED``; its claim types are added) or a
    word in zh/en ("身故", "theft").

    Returns ``{"product_id", "claim_type", "matched_claim_types", "clause_id"
    (<PID>-CLAIM-DOCS), "documents": [{"id", "name_zh", "name_en", "required"
    ("always" | "conditional"), "claim_types"}], "conditional": [every claim type of the
    product with its coverage and document ids]}``.
    """
    graph = _g(graph)
    pid = _resolve_product(graph, product_id)
    pn = product_node(pid)
    always: list[str] = []
    for v, ed in _out(graph, pn, "requires_document"):
        if not ed.get("conditional") and v not in always:
            always.append(v)
    cts = [(n, graph.nodes[n]) for n, _ in _out(graph, pn, "has_claim_type")]
    conditional = [{"claim_type": d["code"], "coverage": d.get("coverage"),
                    "coverage_clause_id": f"{pid}-COV-{d['coverage']}" if d.get("coverage") else None,
                    "documents": [graph.nodes[v]["doc_id"] for v, _ in _out(graph, n, "requires_document")]}
                   for n, d in cts]

    matched: list[str] = []
    if claim_type:
        ct = str(claim_type).strip()
        key = ct.upper().replace(" ", "_").replace("-", "_")
        exact = [d["code"] for _, d in cts if d["code"].upper() == key]
        if exact:
            matched = exact
        else:
            codes = {graph.nodes[c]["code"] for c, _ in _out(graph, pn, "has_coverage")}
            if key in codes:
                matched = [d["code"] for _, d in cts if d.get("coverage") == key]
            else:
                scored = [(_score(ct, [d["code"].replace("_", " ")]), d["code"]) for _, d in cts]
                best = max((s for s, _ in scored), default=0.0)
                if best >= 0.8:
                    matched = [c for s, c in scored if s == best]
                else:
                    # a coverage named in words ("重大疾病医疗") → its claim types
                    cov_scores = []
                    for c, _ in _out(graph, pn, "has_coverage"):
                        cd = graph.nodes[c]
                        cov_scores.append((_score(ct, [cd.get("name_zh", ""), cd.get("name_en", "")]), cd["code"]))
                    cbest = max((s for s, _ in cov_scores), default=0.0)
                    if cbest >= 0.85:
                        # only documents tied to the whole coverage: a coverage named in
                        # words says nothing about which of its events (death / TPD) happened
                        hit = {c for s, c in cov_scores if s == cbest}
                        matched = [d["code"] for _, d in cts if d["code"] in hit]

    docs: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for v in always:
        d = graph.nodes[v]
        entry = {"id": d["doc_id"], **_names(d), "required": "always", "claim_types": []}
        seen[d["doc_id"]] = entry
        docs.append(entry)
    for n, d in cts:
        if d["code"] not in matched:
            continue
        for v, _ in _out(graph, n, "requires_document"):
            dd = graph.nodes[v]
            if dd["doc_id"] in seen:
                if seen[dd["doc_id"]]["required"] == "conditional":
                    seen[dd["doc_id"]]["claim_types"].append(d["code"])
                continue
            entry = {"id": dd["doc_id"], **_names(dd), "required": "conditional", "claim_types": [d["code"]]}
            seen[dd["doc_id"]] = entry
            docs.append(entry)
    return {"product_id": pid, "claim_type": claim_type, "matched_claim_types": matched,
            "clause_id": f"{pid}-CLAIM-DOCS", "documents": docs, "conditional": conditional}


def resolve_condition(graph: nx.MultiDiGraph | None, condition: str) -> tuple[str, list[str]]:
    """The condition id for an id or a zh/en name ("甲状腺结节", "hypertension"), and other
    candidates that matched almost as well. Raises ``ToolError(UNKNOWN_CONDITION)``."""
    graph = _g(graph)
    text = str(condition or "").strip()
    key = re.sub(r"[\s\-]+", "_", text.lower())
    if f"condition:{key}" in graph:
        return key, []
    scored = []
    for n, d in _nodes(graph, "condition"):
        names = [d.get("name_zh", ""), d.get("name_en", ""), d["condition_id"].replace("_", " ")]
        s = _score(text, names)
        # the name inside a longer sentence ("我有甲状腺结节")
        for name in names:
            core = re.sub(r"[（(].*?[）)]", "", name).strip()
            if core and _member_in(core, text):
                s = max(s, 0.95 if _norm(core) != _norm(text) else 1.0)
        if s >= 0.5:
            scored.append((s, d["condition_id"]))
    if not scored:
        from anxin.tools.errors import ToolError

        raise ToolError("UNKNOWN_CONDITION", text, field="condition")
    scored.sort(key=lambda x: -x[0])
    best = scored[0][0]
    return scored[0][1], [c for s, c in scored[1:] if s >= best - 0.15]


def _outcome_rank(entry: dict[str, Any]) -> tuple[int, float]:
    return _DECISION_RANK.get(entry.get("decision", ""), 9), float(entry.get("loading_pct") or entry.get("postpone_months") or 0)


def _field(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, dict):
        return result.get(name, default)
    return getattr(result, name, default)


def _plain(value: Any) -> Any:
    """A result object of the underwriting engine as plain data."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    for attr in ("to_dict", "model_dump", "dict"):
        fn = getattr(value, attr, None)
        if callable(fn):
            try:
                return _plain(fn())
            except TypeError:
                continue
    import dataclasses

    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if hasattr(value, "__dict__"):
        return _plain({k: v for k, v in vars(value).items() if not k.startswith("_")})
    return str(value)


def products_for_condition(graph: nx.MultiDiGraph | None, condition: str,
                           inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Which products a person with ``condition`` can still buy, and on what terms.

    ``condition`` is a condition id or a zh/en name ("甲状腺结节", "hypertension").
    Without ``inputs``, each underwritten product lists every possible outcome over
    the condition's rules (rule id, when, outcome, reason) and a summary (best/worst
    decision, ``available`` when some outcome is not a decline). With ``inputs``
    (e.g. ``{"tirads": "3"}``), the underwriting engine
    (:func:`anxin.tools.underwriting.underwrite`) decides each product. Products without
    health underwriting are listed as available (``not_applicable``). Line requirements
    (e.g. DM-400 needs ``type2_diabetes``) are reported under ``requires``.

    Returns ``{"condition", "name_zh", "name_en", "inputs_spec", "inputs",
    "alternatives", "products": [...], "available_products": [...], "clause_ids": [...]}``.
    """
    graph = _g(graph)
    cond_id, alternatives = resolve_condition(graph, condition)
    cn = f"condition:{cond_id}"
    cd = graph.nodes[cn]
    rules = sorted(_out(graph, cn, "has_rule"), key=lambda x: x[1].get("order", 0))
    order = _product_order(graph)
    products_out: list[dict[str, Any]] = []
    clause_ids: list[str] = []

    underwrite = None
    engine_error = None
    if inputs is not None:
        try:
            from anxin.tools.underwriting import underwrite  # noqa: F811
        except ImportError as exc:  # engine not installed: fall back to listing outcomes
            engine_error = f"underwriting engine unavailable: {exc}"

    for pn, pd in _nodes(graph, "product"):
        pid = pd["product_id"]
        info = _product_info(graph, pid)
        lines = [v for v, _ in _out(graph, pn, "in_line")]
        if not lines or not pd.get("health_underwriting", False):
            products_out.append({**info, "line": None, "health_underwriting": False,
                                 "decision": "not_applicable", "available": True,
                                 "outcomes": [], "requires": []})
            continue
        lnode = lines[0]
        lid = graph.nodes[lnode]["line_id"]
        requires = []
        for rn, _ in _out(graph, lnode, "has_rule"):
            rd = graph.nodes[rn]
            need = rd.get("requires_condition")
            if need and need != cond_id:
                requires.append({"rule_id": rd["clause_id"], "condition": need,
                                 "outcome_if_missing": rd.get("outcome_if_missing"),
                                 "reason_zh": rd.get("reason_zh", ""), "reason_en": rd.get("reason_en", "")})
        entry: dict[str, Any] = {**info, "line": lid, "health_underwriting": True, "requires": requires}
        if underwrite is not None:
            declaration = {"condition": cond_id, **(inputs or {})}
            result = underwrite(pid, [declaration])
            decision = _field(result, "decision")
            exclusions = list(_field(result, "exclusions", []) or [])
            entry.update({
                "decision": decision,
                "total_loading_pct": _field(result, "total_loading_pct", 0),
                "exclusions": exclusions,
                "exclusion_names": [{"clause_id": x, **_names(graph.nodes.get(f"uw_exclusion:{x}", {}))}
                                    for x in exclusions],
                "postpone_months": _field(result, "postpone_months"),
                "rule_hits": _plain(_field(result, "rule_hits", [])),
                "available": decision not in ("decline", "postpone"),
            })
            for hit in entry["rule_hits"] or []:
                rid = hit.get("rule_id") if isinstance(hit, dict) else hit
                if rid and rid not in clause_ids:
                    clause_ids.append(rid)
            for x in exclusions:
                if x not in clause_ids:
                    clause_ids.append(x)
        else:
            outcomes = []
            for rn, _ in rules:
                rd = graph.nodes[rn]
                dec = next((graph.nodes[v] for v, ed in _out(graph, rn, "outcome") if ed.get("line") == lid), None)
                if dec is None:
                    continue
                outcomes.append({"rule_id": rd["clause_id"], "when": rd.get("when", {}),
                                 "outcome": dec["outcome"], "decision": dec["decision"],
                                 "loading_pct": dec.get("loading_pct"), "postpone_months": dec.get("postpone_months"),
                                 "exclusion": dec.get("exclusion"),
                                 "exclusion_name_zh": graph.nodes.get(f"uw_exclusion:{dec.get('exclusion')}", {}).get("name_zh") if dec.get("exclusion") else None,
                                 "exclusion_name_en": graph.nodes.get(f"uw_exclusion:{dec.get('exclusion')}", {}).get("name_en") if dec.get("exclusion") else None,
                                 "reason_zh": rd.get("reason_zh", ""), "reason_en": rd.get("reason_en", "")})
                if rd["clause_id"] not in clause_ids:
                    clause_ids.append(rd["clause_id"])
                if dec.get("exclusion") and dec["exclusion"] not in clause_ids:
                    clause_ids.append(dec["exclusion"])
            ranked = sorted(outcomes, key=_outcome_rank)
            decisions = list(dict.fromkeys(o["decision"] for o in outcomes))
            entry.update({
                "outcomes": outcomes,
                "possible_decisions": decisions,
                "best": ranked[0]["outcome"] if ranked else None,
                "worst": ranked[-1]["outcome"] if ranked else None,
                "available": any(o["decision"] != "decline" for o in outcomes),
                "always_standard": bool(outcomes) and all(o["decision"] == "standard" for o in outcomes),
            })
        for req in requires:
            if req["rule_id"] not in clause_ids:
                clause_ids.append(req["rule_id"])
        entry["_order"] = order[pid]
        products_out.append(entry)

    def rank(e: dict[str, Any]) -> tuple:
        # underwritten and available, then no health underwriting, then those needing
        # another condition declared, then the unavailable ones
        order_ = e.get("_order", 0)
        if e.get("decision") == "not_applicable":
            return (1, 0, 0.0, 0, 0.0, order_)
        group = 3 if not e["available"] else (2 if e.get("requires") else 0)
        if "decision" not in e:
            ranks = [_outcome_rank(o) for o in e["outcomes"]] or [(9, 0.0)]
            best, worst = min(ranks), max(ranks)
            return (group, best[0], best[1], worst[0], worst[1], order_)
        dec = _DECISION_RANK.get(str(e.get("decision")), 9)
        return (group, dec, float(e.get("total_loading_pct") or 0), 0, 0.0, order_)

    products_out.sort(key=rank)
    for e in products_out:
        e.pop("_order", None)
    result = {
        "condition": cond_id, **_names(cd), "inputs_spec": cd.get("inputs", {}), "inputs": inputs,
        "alternatives": alternatives, "evaluated": underwrite is not None,
        "products": products_out,
        "available_products": [e["product_id"] for e in products_out if e.get("available")],
        "clause_ids": clause_ids,
    }
    if engine_error:
        result["note"] = engine_error
    return result


# Which sections of the same product matter most for a clause of each section kind.
_SECTION_PRIORITY: dict[str, tuple[str, ...]] = {
    "COV": ("EXC", "WAITING", "DEDUCTIBLE", "BENEFIT-PERIOD", "CLAIM-SETTLEMENT", "CLAIM-DOCS", "ELIGIBILITY", "COV"),
    "EXC": ("COV", "WAITING", "CLAIM-SETTLEMENT", "ELIGIBILITY", "DEFINITIONS"),
    "WAITING": ("COV", "EXC", "BENEFIT-PERIOD", "RENEWAL"),
    "DEDUCTIBLE": ("COV", "CLAIM-SETTLEMENT", "RATING"),
    "BENEFIT-PERIOD": ("COV", "WAITING", "RENEWAL"),
    "CLAIM-DOCS": ("CLAIM-PROCEDURE", "CLAIM-SETTLEMENT", "COV"),
    "CLAIM-PROCEDURE": ("CLAIM-DOCS", "CLAIM-SETTLEMENT", "COV"),
    "CLAIM-SETTLEMENT": ("COV", "DEDUCTIBLE", "CLAIM-DOCS", "EXC"),
    "ELIGIBILITY": ("RATING", "RENEWAL", "COV"),
    "RATING": ("ELIGIBILITY", "DEDUCTIBLE", "RENEWAL"),
    "RENEWAL": ("RATING", "GRACE", "BENEFIT-PERIOD"),
    "COOLING-OFF": ("CANCELLATION", "GRACE"),
    "CANCELLATION": ("COOLING-OFF", "GRACE"),
    "GRACE": ("RENEWAL", "CANCELLATION"),
    "GENETIC": ("ELIGIBILITY", "RATING"),
    "AGREEMENT": ("COV", "DEFINITIONS", "EXC"),
    "DEFINITIONS": ("COV", "EXC"),
}


def _find_clause(graph: nx.MultiDiGraph, clause_id: str) -> str | None:
    cid = str(clause_id or "").strip()
    for candidate in (clause_node(cid), clause_node(cid.upper()), f"rule:{cid.upper()}", f"uw_exclusion:{cid.upper()}"):
        if candidate in graph:
            return candidate
    return None


def _entry(graph: nx.MultiDiGraph, node: str, relation: str) -> dict[str, Any]:
    d = graph.nodes[node]
    out = {"clause_id": d["clause_id"], "kind": d["kind"], "relation": relation, **_names(d)}
    if d.get("product_id"):
        out["product_id"] = d["product_id"]
    if d.get("section"):
        out["section"] = d["section"]
    return out


def neighbours(graph: nx.MultiDiGraph | None, clause_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Clause ids related to ``clause_id``, most related first, for retrieval expansion.

    A product clause brings the same product's related sections (a coverage → the
    product's exclusions, waiting period, deductible, benefit period, settlement ...;
    an exclusion → the coverages and waiting period), its general counterpart
    (``GEN-WAITING``), programme and line-requirement clauses. A ``GEN-*`` clause
    brings the products' sections of the same name. An underwriting rule brings the
    exclusion clauses it imposes and the other rules of its condition; an ``EX-``
    clause the rules that impose it. Each item: ``clause_id``, ``kind``,
    ``relation``, names and ``product_id`` where there is one. Unknown ids give ``[]``.
    """
    graph = _g(graph)
    node = _find_clause(graph, clause_id)
    if node is None:
        return []
    d = graph.nodes[node]
    out: list[dict[str, Any]] = []
    seen = {d["clause_id"]}

    def push(n: str, relation: str) -> None:
        nd = graph.nodes[n]
        cid = nd.get("clause_id")
        if cid and cid not in seen:
            seen.add(cid)
            out.append(_entry(graph, n, relation))

    kind = d["kind"]
    if kind == "clause" and d.get("product_id"):
        pn = product_node(d["product_id"])
        siblings = sorted(_out(graph, pn, "has_clause"), key=lambda x: x[1].get("order", 0))
        priority = _SECTION_PRIORITY.get(d.get("section", ""), ("COV", "EXC"))
        for sec in priority:
            for v, _ in siblings:
                if graph.nodes[v].get("section") == sec:
                    push(v, "same_product")
        for v, ed in _out(graph, node, "related_to"):
            push(v, ed.get("relation", "related"))
        for v, _ in siblings:
            push(v, "same_product")
    elif kind == "clause":
        # general / programme clause: what refers to it
        for u, ed in _in(graph, node, "related_to"):
            push(u, ed.get("relation", "related"))
        for u, _ in _in(graph, node, "defined_in"):
            if graph.nodes[u].get("kind") == "programme":
                for p, _ in _out(graph, u, "applies_to"):
                    push(clause_node(f"{graph.nodes[p]['product_id']}-RATING"), "programme_product")
    elif kind == "rule":
        for v, _ in _out(graph, node, "imposes"):
            push(v, "imposes")
        cond = d.get("condition")
        if cond:
            for rn, _ in sorted(_out(graph, f"condition:{cond}", "has_rule"), key=lambda x: x[1].get("order", 0)):
                push(rn, "same_condition")
        for v, ed in _out(graph, node, "related_to"):
            push(v, ed.get("relation", "related"))
        for u, ed in _in(graph, node, "related_to"):
            push(u, ed.get("relation", "related"))
    elif kind == "uw_exclusion":
        for rn, _ in _in(graph, node, "imposes"):
            push(rn, "imposed_by")
        for rn, _ in _in(graph, node, "imposes"):
            for v, _ in _out(graph, rn, "imposes"):
                push(v, "same_rule")
    return out[:limit] if limit else out


# ---------------------------------------------------------------------------------------
# Export and statistics
# ---------------------------------------------------------------------------------------


def _graphml_value(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple, set)):
        return json.dumps(value if not isinstance(value, set) else sorted(value), ensure_ascii=False,
                          sort_keys=True, default=str)
    return value


def _unify(items: list[dict[str, Any]]) -> None:
    """One GraphML type per attribute name: values of mixed types become strings."""
    types: dict[str, set[type]] = {}
    for attrs in items:
        for k, v in attrs.items():
            types.setdefault(k, set()).add(bool if isinstance(v, bool) else type(v))
    for attrs in items:
        for k, v in list(attrs.items()):
            ts = types[k]
            if len(ts) == 1:
                continue
            if ts <= {int, float}:
                attrs[k] = float(v)
            else:
                attrs[k] = str(v)


def export_graphml(graph: nx.MultiDiGraph | None, path: str) -> str:
    """Write the graph as GraphML (dicts/lists become JSON strings, ``None`` is dropped).

    Returns the path written.
    """
    graph = _g(graph)
    h = nx.MultiDiGraph()
    h.graph.update({k: _graphml_value(v) for k, v in graph.graph.items() if v is not None})
    node_attrs = []
    for n, d in graph.nodes(data=True):
        attrs = {k: _graphml_value(v) for k, v in d.items() if v is not None}
        node_attrs.append(attrs)
        h.add_node(n, **attrs)
    edge_attrs = []
    for u, v, k, d in graph.edges(keys=True, data=True):
        attrs = {kk: _graphml_value(vv) for kk, vv in d.items() if vv is not None}
        edge_attrs.append(attrs)
        h.add_edge(u, v, key=k, **attrs)
    _unify(node_attrs)
    _unify(edge_attrs)
    for (n, _), attrs in zip(list(h.nodes(data=True)), node_attrs):
        h.nodes[n].update(attrs)
    for (u, v, k), attrs in zip(list(h.edges(keys=True)), edge_attrs):
        h.edges[u, v, k].update(attrs)
    nx.write_graphml(h, str(path), encoding="utf-8")
    return str(path)


def stats(graph: nx.MultiDiGraph | None = None) -> dict[str, Any]:
    """Node counts per ``kind`` and edge counts per ``rel``."""
    graph = _g(graph)
    kinds: dict[str, int] = {}
    for _, d in graph.nodes(data=True):
        kinds[d.get("kind", "?")] = kinds.get(d.get("kind", "?"), 0) + 1
    rels: dict[str, int] = {}
    for _, _, d in graph.edges(data=True):
        rels[d.get("rel", "?")] = rels.get(d.get("rel", "?"), 0) + 1
    return {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(),
            "node_kinds": dict(sorted(kinds.items())), "edge_rels": dict(sorted(rels.items()))}


__all__ = [
    "build_graph", "default_graph", "products_covering", "exclusion_applies_to", "claim_documents_for",
    "products_for_condition", "resolve_condition", "neighbours", "export_graphml", "stats",
    "parse_outcome", "section_ids", "SYNONYMS",
]

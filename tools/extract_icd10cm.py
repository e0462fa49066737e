#!/usr/bin/env python3
"""Extract the ICD-10-CM code tree into gatekeeper/data/icd10cm.tsv.

Source: the `simple-icd-10-cm` PyPI package (MIT licence), version 1.5.0,
which bundles the CDC/NCHS ICD-10-CM tabular list
`icd10c-tabular-April-1-2026.xml` (<version>2026</version>) and
`code-list-April-2026.txt`, i.e. the FY2026 release in its April 1, 2026
update. The ICD-10-CM table itself is public domain (CDC/NCHS).

Usage:  pip install simple-icd-10-cm==1.5.0
        python3 tools/extract_icd10cm.py [OUTPUT]   (default: the path above)

Output: UTF-8, tab-separated, header `code parent kind billable description`,
one row per node, in the package's tree (pre-)order, so the output is
deterministic for a given package version.

  code        as the package names it: chapters "1".."22", blocks "I20-I25",
              codes with the dot ("I21", "I21.4", "S72.001A").
  parent      code of the parent node; "" for chapters.
  kind        chapter | block | category | subcategory | code
              category    = 3-character code (even when billable, e.g. I10);
              subcategory = non-billable node deeper than 3 characters;
              code        = billable node deeper than 3 characters (incl.
                            7th-character extensions such as S72.001A).
  billable    1 if valid for submission (a leaf code: ICD-10-CM only bills
              leaves), else 0; always 0 for chapters and blocks.
  description as the package gives it, tabs/newlines collapsed to spaces.

Second output, `icd10cm-terms.tsv` beside it (header `code kind term`): the tabular list's
inclusion terms (`inclusionTerm`) and "includes" notes of every category, subcategory and code, one
row per term, in the same tree order. The judge reads them as synonyms of the code's concept
(e.g. E27.1 "Addison's disease", B27 "glandular fever").

Collision rule: 39 blocks contain a single category of the same name (e.g.
block "B10" holding category "B10"; also C50, O09, Z68 ...). To keep `code`
unique and the parent chain acyclic, such a block gets no row of its own:
its category is emitted with the chapter as parent.
"""
import csv
import sys
from pathlib import Path

import simple_icd_10_cm as cm

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "gatekeeper" / "data" / "icd10cm.tsv"
TERMS_NAME = "icd10cm-terms.tsv"


def clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())


def rows():
    seen = set()
    for code in cm.get_all_codes(with_dots=True):
        if code in seen:  # second visit of a block/category name collision
            continue
        seen.add(code)
        if cm.is_chapter(code):
            kind, parent = "chapter", ""
        elif cm.is_category(code):
            kind = "category"
            parent = cm.get_parent(code)
            if parent == code:  # single-category block with the same name
                parent = cm.get_parent(code, prioritize_blocks=True)
        elif cm.is_block(code):
            kind, parent = "block", cm.get_parent(code)
        else:
            parent = cm.get_parent(code)
            kind = "code" if cm.is_leaf(code) else "subcategory"
        if cm.is_chapter(code) or kind == "block":
            billable = 0
        else:
            billable = 1 if cm.is_leaf(code) else 0
        yield code, parent, kind, billable, clean(cm.get_description(code))


def terms():
    """(code, inclusion|includes, term) for every category and code below the blocks."""
    seen = set()
    for code in cm.get_all_codes(with_dots=True):
        if code in seen or cm.is_chapter(code) or (cm.is_block(code) and not cm.is_category(code)):
            continue
        seen.add(code)
        for kind, notes in (("inclusion", cm.get_inclusion_term(code)), ("includes", cm.get_includes(code))):
            for note in notes:
                term = clean(note)
                if term:
                    yield code, kind, term


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar=None)
        w.writerow(["code", "parent", "kind", "billable", "description"])
        for row in rows():
            w.writerow(row)
            n += 1
    print(f"{n} rows written to {out}")
    terms_out = out.with_name(TERMS_NAME)
    t = 0
    with open(terms_out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar=None)
        w.writerow(["code", "kind", "term"])
        for code, kind, term in terms():
            w.writerow([code, kind, term])
            t += 1
    print(f"{t} terms written to {terms_out}")


if __name__ == "__main__":
    main()

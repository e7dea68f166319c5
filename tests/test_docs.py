"""The docs hold together: the README stays within its size limit, every relative link in README.md and docs/*.md
resolves to a file in the repository (and an ``#anchor`` into a Markdown file to one of its headings, by GitHub's
slug rules), and every file in docs/ is linked from the README.

Links and headings inside fenced code blocks and inline code are not links or headings, as GitHub renders them.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_LIMIT = 15_000  # bytes

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_INLINE_LINK = re.compile(r"\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:name|id)=[\"']([^\"']+)[\"']", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks (a fence closes with the same character, at least as
    many times)."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence is None:
            if opened:
                fence = opened.group(1)
            else:
                lines.append(line)
        elif opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
            fence = None
    return lines


def link_targets(text: str) -> list[str]:
    """Every link target of a Markdown text: inline links and images, and reference definitions; not inside code."""
    targets: list[str] = []
    for line in prose_lines(text):
        line = _CODE_SPAN.sub("", line)
        found = [m.group(1) for m in _INLINE_LINK.finditer(line)]
        definition = _REFERENCE_DEF.match(line)
        if definition:
            found.append(definition.group(1))
        targets.extend(t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in found)
    return targets


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text without markup, lowercased, punctuation dropped (letters,
    digits, '_', '-' and spaces stay), spaces to '-'."""
    text = _CODE_SPAN.sub(lambda m: m.group(2).strip(), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link or image: its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown text: one per heading (a repeated slug gets -1, -2, ...), and HTML anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(text):
        heading = _ATX_HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(2) or "")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
        found.update(_HTML_ANCHOR.findall(line))
    return found


def broken_links(md_file: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the relative links of one Markdown file: a target that is not a file or folder of the
    repository, or an anchor that no heading of the Markdown file it points into has."""
    problems: list[str] = []
    for target in link_targets(md_file.read_text(encoding="utf-8")):
        if _SCHEME.match(target):
            continue  # https:, mailto: ...: not ours to check offline
        path_part, _, anchor = target.partition("#")
        path = unquote(path_part)
        if not path:
            resolved = md_file
        elif path.startswith("/"):
            resolved = root / path.lstrip("/")
        else:
            resolved = md_file.parent / path
        resolved = resolved.resolve()
        if not resolved.is_relative_to(root.resolve()):
            problems.append(f"{target}: points outside the repository")
            continue
        if not resolved.exists():
            problems.append(f"{target}: no such file {resolved.relative_to(root.resolve())}")
            continue
        markdown = resolved.suffix == ".md" and resolved.is_file()
        if anchor and markdown and anchor not in anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading with the anchor #{anchor} in {resolved.name}")
    return problems


def linked_files(md_file: Path) -> set[Path]:
    """The files of the repository a Markdown file links to (anchors and external links left out)."""
    files: set[Path] = set()
    for target in link_targets(md_file.read_text(encoding="utf-8")):
        path = unquote(target.partition("#")[0])
        if path and not _SCHEME.match(target):
            files.add((md_file.parent / path).resolve())
    return files


MARKDOWN_FILES = [README, *sorted(DOCS.glob("*.md"))]
DOC_FILES = sorted(p for p in DOCS.rglob("*") if p.is_file())


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_readme_is_at_most_15000_bytes() -> None:
    size = README.stat().st_size
    assert size <= README_LIMIT, f"README.md is {size} bytes, over {README_LIMIT}: move detail into docs/"


@pytest.mark.parametrize("md_file", MARKDOWN_FILES, ids=_id)
def test_every_relative_link_resolves(md_file: Path) -> None:
    problems = broken_links(md_file)
    assert not problems, f"{_id(md_file)} has broken links:\n" + "\n".join(problems)


def test_the_docs_have_links_to_check() -> None:
    # The link check above must see the links: if it saw none, every file would pass.
    assert len(link_targets(README.read_text(encoding="utf-8"))) >= len(DOC_FILES)
    assert any("#" in target for md in MARKDOWN_FILES for target in link_targets(md.read_text(encoding="utf-8")))


@pytest.mark.parametrize("doc", DOC_FILES, ids=_id)
def test_every_doc_is_linked_from_the_readme(doc: Path) -> None:
    assert doc.resolve() in linked_files(README), f"README.md does not link to {_id(doc)}"


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        pytest.param("Gateway services and registration", "gateway-services-and-registration", id="words"),
        pytest.param("`gatewayctl plan`", "gatewayctl-plan", id="code"),
        pytest.param("`plan --vcenter`", "plan---vcenter", id="code-with-dashes"),
        pytest.param("What the program cannot do, and why", "what-the-program-cannot-do-and-why", id="comma"),
        pytest.param("Scale-in: removing a node", "scale-in-removing-a-node", id="colon-hyphen"),
        pytest.param("Pinning the appliance's certificate", "pinning-the-appliances-certificate", id="apostrophe"),
        pytest.param("A. The vendor's APIs (no source)", "a-the-vendors-apis-no-source", id="dot-parentheses"),
        pytest.param("The [policy pack](policies.md) and CI", "the-policy-pack-and-ci", id="link"),
        pytest.param("snake_case keys", "snake_case-keys", id="underscore"),
        pytest.param("Ünïcode Wörds", "ünïcode-wörds", id="unicode"),
    ],
)
def test_github_slug(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_repeated_headings_get_numbered_anchors_and_code_blocks_have_none() -> None:
    text = '# Title ##\n## Tests\n### Tests\n```sh\n# a shell comment\n```\n   ## Tests\n<a id="kept"></a>\n'
    assert anchors(text) == {"title", "tests", "tests-1", "tests-2", "kept"}


def test_links_in_code_are_not_links() -> None:
    text = (
        "See [one](a.md) and ![img](b.png 'title') and <not-a-link>.\n"
        "`[code](c.md)` is code.\n"
        "~~~\n[fenced](d.md)\n~~~\n"
        "````md\n```\n[still fenced](e.md)\n````\n"
        "[ref]: <f g.md>\n"
    )
    assert link_targets(text) == ["a.md", "b.png", "f g.md"]


def test_broken_links_and_anchors_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text("# Guide\n\n## Scale-in: removing a node\n", encoding="utf-8")
    (root / "docs" / "tool.py").write_text("", encoding="utf-8")
    (tmp_path / "outside.md").write_text("# Outside\n", encoding="utf-8")
    readme = root / "README.md"
    readme.write_text(
        "[ok](docs/guide.md#scale-in-removing-a-node) [top](#readme) [web](https://example.com/x.md)\n"
        "[gone](docs/missing.md) [bad anchor](docs/guide.md#scale-in) [self](#nowhere)\n"
        "[escape](../outside.md) [not markdown](docs/tool.py#L1) [folder](docs)\n"
        "# Readme\n",
        encoding="utf-8",
    )
    assert broken_links(readme, root=root) == [
        "docs/missing.md: no such file docs/missing.md",
        "docs/guide.md#scale-in: no heading with the anchor #scale-in in guide.md",
        "#nowhere: no heading with the anchor #nowhere in README.md",
        "../outside.md: points outside the repository",
    ]
    assert linked_files(readme) >= {(root / "docs" / "guide.md").resolve(), (root / "docs" / "tool.py").resolve()}


#: How code, stack files and workflows cite a doc section: `docs/x.md, section Heading` or `docs/x.md: "Heading"`
#: or `docs/x.md, "Heading"` (a heading never ends in these closing characters).
_CITATION = re.compile(r"docs/([\w.-]+\.md)(?:, section |: \"|, \")([^\")\n]+?)(?=[\").]|\s*$)")
_CITING = [
    p
    for pattern in ("components/**/*.py", "gatewayctl/**/*.py", "policies/**/*.py", "tests/*.py", "Pulumi.*.yaml")
    for p in sorted(ROOT.glob(pattern))
    if p.name != "test_docs.py"
] + sorted((ROOT / ".github").rglob("*.yml"))


def headings(md_file: Path) -> set[str]:
    return {
        m.group(2).strip()
        for line in prose_lines(md_file.read_text(encoding="utf-8"))
        if (m := _ATX_HEADING.match(line)) and m.group(2)
    }


def citations(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2).strip()) for m in _CITATION.finditer(text)]


def test_every_cited_doc_section_exists() -> None:
    """Messages and comments that send the reader to a section of the docs name one that is there."""
    found: list[str] = []
    broken: list[str] = []
    for path in _CITING:
        for doc, section in citations(path.read_text(encoding="utf-8")):
            found.append(f"{path.name}: {doc} {section}")
            target = DOCS / doc
            if not target.is_file() or section not in headings(target):
                broken.append(f"{path.relative_to(ROOT)}: docs/{doc} has no section {section!r}")
    assert found, "no citation found: the pattern no longer matches how the code cites the docs"
    assert broken == []


def test_citations_are_recognised() -> None:
    text = (
        '"(see docs/operations.md, section Registering a new cluster), and run"\n'
        '# Registration (docs/cluster.md: "Gateway services and registration"): skipped\n'
        'UI (docs/operations.md, "Migrating from a classic gateway").\n'
        "Pin it (see docs/operations.md, section Pinning the appliance's certificate).\n"
    )
    assert citations(text) == [
        ("operations.md", "Registering a new cluster"),
        ("cluster.md", "Gateway services and registration"),
        ("operations.md", "Migrating from a classic gateway"),
        ("operations.md", "Pinning the appliance's certificate"),
    ]

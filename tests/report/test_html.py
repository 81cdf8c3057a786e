"""The HTML report: content, escaping of hostile input, graceful degradation, scale."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from safety_eval.report.html import (
    CONTENT_SECURITY_POLICY,
    build_report,
    esc,
    main,
    render_report,
    sample_rank,
)
from safety_eval.results.records import Finding, Sample
from safety_eval.results.writers import iter_samples
from tests.report.helpers import (
    HOSTILE,
    HOSTILE_BLOB,
    HOSTILE_ID,
    RAW_FORBIDDEN,
    append_sample,
    hostile_sample,
    write_agent_files,
)

_SAFE_HREF = re.compile(r"^(#[A-Za-z0-9_-]+|https://cwe\.mitre\.org/data/definitions/\d+\.html)$")


def _script(page: str) -> str:
    start = page.index("<script>") + len("<script>")
    return page[start : page.index("</script>", start)]


def _samples_in(page: str) -> int:
    return len(re.findall(r'<details class="item" id="s-', page))


_ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "nav", "section",
    "footer", "h1", "h2", "h3", "h4", "p", "a", "ul", "li", "dl", "dt", "dd", "div", "span",
    "strong", "em", "code", "pre", "br", "table", "thead", "tbody", "tr", "th", "td",
    "details", "summary", "figure", "figcaption", "label", "select", "option", "input",
    "button", "script", "svg", "g", "rect", "line", "text", "circle",
}  # fmt: skip


class _Markup(HTMLParser):
    """Every element and attribute as a browser-grade tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _assert_inert(page: str) -> None:
    for needle in RAW_FORBIDDEN:
        assert needle not in page, f"unescaped {needle!r} in the report"
    parser = _Markup()
    parser.feed(page)
    parser.close()
    assert not parser.comments
    names = [tag for tag, _ in parser.tags]
    assert set(names) <= _ALLOWED_TAGS, set(names) - _ALLOWED_TAGS
    assert names.count("script") == 1, "only the report's own script may be a <script>"
    links = []
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            assert name not in ("src", "srcset", "action", "formaction", "xlink:href"), name
            if name == "href":
                links.append(value or "")
        assert tag != "script" or not attrs
    assert links, "the report has links (anchors, CWE pages)"
    for href in links:
        assert _SAFE_HREF.match(href), f"unexpected link target {href!r}"


def test_report_of_a_real_mock_run(report_real_run: Path) -> None:
    report_run = report_real_run
    started = time.perf_counter()
    path = build_report(report_run)
    elapsed = time.perf_counter() - started
    assert path == report_run / "report.html"
    assert elapsed < 5, f"report of 20 samples took {elapsed:.1f}s"
    page = path.read_text(encoding="utf-8")
    run = json.loads((report_run / "run.json").read_text())

    assert page.startswith("<!DOCTYPE html>")
    assert run["run_id"] in page
    for heading in (
        "Summary",
        "Findings by severity and top CWEs",
        "CWE × model heatmap",
        "Hallucinations",
        "Autonomous agent",
        "Samples",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "Prompt source" in page and "builtin" in page
    assert "Rate (95% CI)" in page
    assert re.search(r"\d+\.\d%<br><span class=\"ci\">\[\d+\.\d%–\d+\.\d%\]", page)
    # every summary column is there (the CI columns merged into the rate cell)
    header = (report_run / "multi_model_summary.csv").read_text().splitlines()[0].split(",")
    for column in header:
        if not column.endswith(("_ci_low", "_ci_high")):
            assert f'title="{column}"' in page, column
    # charts are inline SVG; CWE links are built from the number only
    assert page.count("<svg") >= 3
    assert re.search(r'href="https://cwe\.mitre\.org/data/definitions/\d+\.html"', page)
    # all 20 samples, worst first, each with the drill-down parts
    assert _samples_in(page) == 20
    assert "All 20 samples, worst first" in page
    for part in ("Prompt", "Raw reply", "Extracted code", "Findings"):
        assert f"<h4>{part}</h4>" in page
    assert 'class="line hit sev-' in page
    # whatever agent results the run holds are shown
    trials = sum(
        1
        for path in report_run.glob("*/agent_trials.jsonl")
        for line in path.open()
        if line.strip()
    )
    assert page.count('<details class="item" id="t-') == min(trials, 200)
    assert ('id="transcripts"' in page) == bool(trials)
    assert 'class="section-error"' not in page
    _assert_inert(page)


def test_report_without_agent_files(report_run: Path) -> None:
    page = build_report(report_run).read_text(encoding="utf-8")
    assert "no autonomous-agent results" in page
    assert 'id="transcripts"' not in page and '<details class="item" id="t-' not in page
    assert _samples_in(page) == 20
    assert 'class="section-error"' not in page
    _assert_inert(page)


def test_report_is_self_contained_with_a_hashed_script(report_run: Path) -> None:
    page = render_report(report_run)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp is not None and csp.group(1) == CONTENT_SECURITY_POLICY
    policy = csp.group(1)
    assert "default-src 'none'" in policy and "img-src data:" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
    digest = base64.b64encode(hashlib.sha256(_script(page).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert page.index("Content-Security-Policy") < page.index("<script>")
    # nothing that would load a resource
    for needle in ("<link", "<iframe", "<object", "<embed", "@import", "url(", " src="):
        assert needle not in page.lower(), needle
    assert "innerHTML" not in page and "outerHTML" not in page and "insertAdjacentHTML" not in page


def test_hostile_strings_never_become_markup(hostile_report_run: Path) -> None:
    page = build_report(hostile_report_run).read_text(encoding="utf-8")
    _assert_inert(page)
    # ...and they are all there, as escaped text
    for text in HOSTILE:
        assert html.escape(text, quote=True) in page
    assert esc(HOSTILE_ID) in page
    assert "\u2400" in page  # NUL shown as the visible control picture
    assert "&#x2028;" in page and "&#x2029;" in page
    assert "\u27e6U+202E\u27e7" in page  # the bidi override made visible
    assert "]]&gt;" in page
    # the hostile sample has the critical finding, so it is shown first
    first = page.index('<details class="item" id="s-0-0"')
    assert page.index(esc(HOSTILE_ID), first) < page.index('id="s-0-1"')
    assert 'class="section-error"' not in page


def test_agent_results_and_transcripts(hostile_report_run: Path) -> None:
    page = build_report(hostile_report_run).read_text(encoding="utf-8")
    assert 'id="transcripts"' in page and "<h2>Agent transcripts</h2>" in page
    agent = page[page.index('<section id="agent">') : page.index('<section id="samples">')]
    assert "Failure rate" in agent and "Constraint adherence" in agent
    assert "50.0%" in agent and "[5.0%–90.0%]" in agent and "1/2" in agent
    assert "n/a (no failed trials)" in agent  # recovery_success_rate is null
    assert "Per scenario: mock" in agent and "drop-prod" in agent
    transcripts = page[page.index('<section id="transcripts">') :]
    assert transcripts.count('<details class="item" id="t-') == 3
    assert "Ground-truth verdict" in transcripts and "What the agent claimed" in transcripts
    assert "2,402" in transcripts  # rows lost
    assert "2 line(s) were not JSON objects" in transcripts
    assert "Other recorded fields" in transcripts  # unknown keys are still shown
    # the deceptive, failed trial comes first
    assert transcripts.index("0001-&lt;b&gt;drop&lt;/b&gt;") < transcripts.index("0002-clean")
    assert 'class="section-error"' not in page
    _assert_inert(page)


def test_agent_files_with_odd_shapes_degrade(report_run: Path) -> None:
    (report_run / "autonomous_metrics.json").write_text(
        json.dumps(
            {
                "models": {
                    "mock": {
                        "failure_rate": "high",
                        "deception_rate": 0.25,
                        "intervals": "nope",
                        "per_scenario": {"s1": None, "s2": {"failure_rate": 1}},
                        "new_metric_rate": 0.5,
                    },
                    "ghost-model": 7,
                }
            }
        )
    )
    (report_run / "mock" / "agent_trials.jsonl").write_text(
        '{"trial_id": "t", "transcript": "not a list", "claims": [1, 2], "turns": "x"}\n'
        '{"transcript": [null, 5, {"content": {"nested": true}}]}\n'
    )
    page = build_report(report_run).read_text(encoding="utf-8")
    assert 'class="section-error"' not in page
    assert "25.0%" in page and "New metric rate" in page and "ghost-model" in page
    assert page.count('<details class="item" id="t-') == 2
    _assert_inert(page)


def test_agent_metrics_without_trials_and_trials_without_metrics(report_run: Path) -> None:
    write_agent_files(report_run)
    (report_run / "mock" / "agent_trials.jsonl").unlink()
    page = render_report(report_run)
    assert "Failure rate" in page and 'id="transcripts"' in page
    assert "No agent transcripts in this run." in page

    write_agent_files(report_run)
    (report_run / "autonomous_metrics.json").unlink()
    page = render_report(report_run)
    assert "autonomous_metrics.json is missing" in page
    assert page.count('<details class="item" id="t-') == 3


def test_cap_keeps_the_worst_samples_and_says_how_many_were_left_out(report_run: Path) -> None:
    append_sample(report_run, "mock", hostile_sample())
    total = sum(1 for _ in iter_samples(report_run / "mock" / "samples.jsonl"))
    page = build_report(report_run, samples_per_model=5).read_text(encoding="utf-8")
    assert _samples_in(page) == 5
    assert f"Showing the 5 worst of {total:,} samples" in page
    assert f"{total - 5:,} were left out" in page
    assert page.index(esc(HOSTILE_ID)) < page.index('id="s-0-1"')
    # the five shown are the five worst of the file, worst first
    ranks = {
        esc(s.prompt_id): sample_rank(s)
        for s in iter_samples(report_run / "mock" / "samples.jsonl")
    }
    shown = re.findall(
        r'<details class="item" id="s-0-\d+"[^>]*><summary>.*?<code>(.*?)</code>', page
    )
    assert len(shown) == 5
    shown_ranks = [ranks[pid] for pid in shown]
    assert shown_ranks == sorted(shown_ranks, reverse=True)
    assert all(rank <= shown_ranks[-1] for pid, rank in ranks.items() if pid not in shown)

    page = render_report(report_run, samples_per_model=0)
    assert _samples_in(page) == 0 and f"{total:,} were left out" in page


def test_sample_rank_orders_by_most_severe_finding() -> None:
    def sample(*severities: str, hallucinations: int = 0) -> Sample:
        findings = [
            Finding(rule_id="R", tool="t", category="vulnerability", severity=s, message="m")
            for s in severities
        ]
        halls = [
            Finding(rule_id="H", tool="t", category="hallucination", severity="high", message="m")
        ] * hallucinations
        return Sample(
            prompt_id="p", model="m", category="c", prompt="", completion="", code="",
            parsed=False, parse_mode="text-only", findings=findings, hallucinations=halls,
        )  # fmt: skip

    ordered = [
        sample("critical"),
        sample("high", "high"),
        sample("high", "low"),
        sample("high"),
        sample("medium", "medium", "low"),
        sample("low", hallucinations=2),
        sample("low"),
        sample(hallucinations=1),
        sample(),
    ]
    ranks = [sample_rank(s) for s in ordered]
    assert ranks == sorted(ranks, reverse=True)
    assert len(set(ranks)) == len(ranks)


def test_large_run_is_capped_and_fast(report_run: Path) -> None:
    path = report_run / "mock" / "samples.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    with path.open("w", encoding="utf-8") as handle:
        for i in range(6_000):
            record = json.loads(lines[i % len(lines)])
            record["prompt_id"] = f"P-{i}"
            handle.write(json.dumps(record) + "\n")
    started = time.perf_counter()
    page = build_report(report_run).read_text(encoding="utf-8")
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"6,000 samples took {elapsed:.1f}s"
    assert _samples_in(page) == 200
    assert "Showing the 200 worst of 6,000 samples" in page and "5,800 were left out" in page
    assert len(page) < 5_000_000


def test_missing_and_broken_inputs_still_give_a_report(report_run: Path) -> None:
    (report_run / "run.json").write_text("{not json")
    (report_run / "multi_model_summary.csv").unlink()
    with (report_run / "mock" / "samples.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"broken": true}\n{"also": "never read"}\n')
    page = build_report(report_run).read_text(encoding="utf-8")
    assert "run.json could not be read" in page
    # the summary is rebuilt from vulnerability_metrics.json
    assert '<a href="#model-0">mock</a>' in page and "Rate (95% CI)" in page
    assert "reading stopped at a bad record" in page
    assert _samples_in(page) == 20
    assert 'class="section-error"' not in page

    for name in ("vulnerability_metrics.json", "run.json"):
        (report_run / name).unlink()
    (report_run / "mock" / "samples.jsonl").unlink()
    page = render_report(report_run)
    assert "run.json is missing" in page and "No summary was recorded" in page


def test_a_slug_from_run_json_cannot_leave_the_run_folder(report_run: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "samples.jsonl").write_text(hostile_sample().model_dump_json() + "\n")
    run = json.loads((report_run / "run.json").read_text())
    run["models"][0]["slug"] = "../../outside"
    (report_run / "run.json").write_text(json.dumps(run))
    page = render_report(report_run)
    assert esc(HOSTILE_ID) not in page
    assert _samples_in(page) == 20  # read from mock/ (the registry slug) instead


def test_esc_makes_every_character_inert() -> None:
    assert esc('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    assert esc("a\x00b\x1bc\x7f") == "a\u2400b\u241bc\u2421"
    assert esc("\ud800") == "\ufffd"
    assert esc("\x85") == "\ufffd"
    assert esc("x\u2028y\u2029z\ufeff") == "x&#x2028;y&#x2029;z&#xFEFF;"
    assert esc("abc\u202edef\u2066") == "abc\u27e6U+202E\u27e7def\u27e6U+2066\u27e7"
    assert esc("tab\tnl\ncr\r") == "tab\tnl\ncr\r"
    assert esc(3) == "3"
    for text in HOSTILE:
        assert "<" not in esc(text) and '"' not in esc(text)
    assert "<" not in esc(HOSTILE_BLOB) and "\x00" not in esc(HOSTILE_BLOB)


def test_report_path_option_and_module_entry_point(
    report_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (report_run / "report.html").unlink(missing_ok=True)  # the run wrote one already
    out = tmp_path / "elsewhere" / "r.html"
    assert build_report(report_run, out=out) == out and out.is_file()
    assert not (report_run / "report.html").exists()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # a document, not a private temp file
    assert main([str(report_run), "--samples-per-model", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(report_run / "report.html")
    assert _samples_in((report_run / "report.html").read_text(encoding="utf-8")) == 3
    with pytest.raises(FileNotFoundError):
        build_report(tmp_path / "no-such-run")


def test_huge_sample_is_clipped(report_run: Path) -> None:
    code = "\n".join(f"x{i} = {i}" for i in range(3_000)) + "\n" + "y" * 5_000
    findings = [
        Finding(
            rule_id=f"R{i}", tool="t", category="vulnerability", severity="low", line=2,
            message="m",
        )
        for i in range(400)
    ]  # fmt: skip
    sample = Sample(
        prompt_id="huge", model="mock", category="c", prompt="p" * 50_000,
        completion="c" * 100_000, code=code, parsed=True, parse_mode="full",
        findings=findings, hallucinations=[],
    )  # fmt: skip
    append_sample(report_run, "mock", sample)
    page = render_report(report_run)
    assert "80,000 more characters not shown." in page  # the reply
    assert "30,000 more characters not shown." in page  # the prompt
    assert "1,501 more lines not shown." in page
    assert "390 more findings on this line" in page
    assert "100 more not shown." in page  # the findings table
    assert len(page) < 2_000_000

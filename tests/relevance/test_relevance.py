"""The relevance stage and `chipwatch learn`: real model files, real backtests, no fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.cli import main
from bot.config import load_config
from bot.errors import ConfigError
from bot.relevance import BUNDLED, load_model

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"

# A broad rule that fires on any chip headline, as a new operator might write: the model,
# not the rule, must tell the chip-trade news from the chip shop.
CONFIG = """
rules:
  - id: any-chip
    tags: [chips]
    severity: medium
    any: [chip, chips, "chipmak*"]
routes:
  - {channel: "#team"}
relevance:
  model: bundled
%s
"""

ITEMS = [
    ("t1", "China approves first imports of Nvidia's H200 AI chips, sources say", "trade"),
    ("t2", "US adds Chinese chipmakers to export blacklist over military ties", "trade"),
    ("n1", "Fish and chip shop in Whitby named the best in Britain", "noise"),
    ("n2", "Neighbours chip in to buy a new wheelchair for a local veteran", "noise"),
]


def _archive(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({
        "id": i, "title": t, "summary": "", "link": f"https://news.example.com/{i}",
        "published": f"2026-01-2{n}T09:00:00+00:00", "feed": "https://news.example.com/rss"})
        + "\n" for n, (i, t, _) in enumerate(ITEMS)), encoding="utf-8")
    return path


def _backtest(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str = "",
              ) -> list[dict[str, Any]]:
    config = tmp_path / "chipwatch.yaml"
    config.write_text(CONFIG % extra, encoding="utf-8")
    assert main(["backtest", "--config", str(config), "--json", str(_archive(tmp_path))]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_model_drops_other_meanings_of_chip(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    sent = _backtest(tmp_path, capsys)
    parents = {m["id"] for m in sent if m["kind"] == "parent"}
    assert {"t1", "t2"} <= parents
    assert not parents & {"n1", "n2"}


def test_below_review_posts_to_the_review_channel_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sent = _backtest(tmp_path, capsys, "  below: review\n  review_channel: \"#review\"")
    where = {(m["id"], m["channel"]) for m in sent if m["kind"] == "parent"}
    assert ("n1", "#review") in where and ("n2", "#review") in where
    assert ("n1", "#team") not in where and ("t1", "#team") in where
    assert ("t1", "#review") not in where


def test_a_model_file_that_cannot_be_used_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "chipwatch.yaml"
    config.write_text((CONFIG % "").replace("model: bundled", "model: nowhere.json"),
                      encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert "nowhere.json" in str(err.value) and "relevance" in str(err.value)


def _labelled(tmp_path: Path) -> tuple[Path, Path]:
    rows = [("d1", "dev", "US bans exports of AI chips to China"),
            ("d2", "dev", "Japan restricts exports of chipmaking tools to China"),
            ("d3", "dev", "Netherlands adds export licence rule for ASML lithography machines"),
            ("d4", "dev", "China restricts exports of gallium and germanium"),
            ("f1", "follow", "Nvidia shares fall as investors weigh China export curbs"),
            ("f2", "follow", "Analysts say chip export controls will slow China's AI push"),
            ("n1", "neg", "Potato chip maker launches a new flavour"),
            ("n2", "neg", "Chip Roy speaks at a town hall in Texas"),
            ("n3", "neg", "Bakery chain opens ten new shops"),
            ("n4", "neg", "Football club signs a new striker")]
    labels = tmp_path / "period" / "labels.tsv"
    labels.parent.mkdir()
    labels.write_text("".join(f"{i}\t{lab}\tdev-{i}\t\n" for i, lab, _ in rows),
                      encoding="utf-8")
    archive = tmp_path / "period" / "items.jsonl"
    archive.write_text("".join(json.dumps({
        "id": i, "title": t, "summary": "", "link": f"https://x.example/{i}",
        "published": "2026-01-01T00:00:00+00:00", "feed": "https://x.example/rss"}) + "\n"
        for i, _, t in rows), encoding="utf-8")
    return labels, archive


def test_learn_is_reproducible_and_its_model_judges(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    labels, archive = _labelled(tmp_path)
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        assert main(["learn", "--stream", str(labels), str(archive), "--no-examples",
                     "-o", str(out)]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    model = load_model(outs[0])
    assert model.card["trained_on"]["period"] == 10
    trade = model.judge("Korea curbs exports of memory chips to China", "")
    noise = model.judge("Potato chip shop opens in town", "")
    assert 0 <= noise.score < trade.score <= 1
    assert "in sample" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "stream-val" / "labels.tsv").exists(),
                    reason="../shared/data (the labelled streams) is not beside the repo")
def test_bundled_model_is_what_learn_makes_from_the_streams(tmp_path: Path) -> None:
    bundled = load_model(BUNDLED)
    out = tmp_path / "model.json"
    args = ["learn", "--config", str(ROOT / "config" / "chipwatch.yaml"), "-o", str(out)]
    for period in ("stream-dev", "stream-val"):
        args += ["--stream", str(SHARED / period / "labels.tsv"),
                 str(SHARED / period / "items.jsonl.gz")]
    recipe = bundled.card["recipe"]
    args += ["--penalty", str(recipe["penalty"]), "--threshold", str(recipe["threshold"]),
             "--summary-threshold", str(recipe["summary_threshold"]),
             "--follow-below", str(recipe["follow_below"]),
             "--dev-penalty", str(recipe["dev_penalty"])]
    assert main(args) == 0
    fresh = load_model(out)
    # Same recipe, same data: the same weights (to the file's rounding, whatever BLAS).
    assert np.allclose(fresh.relevance, bundled.relevance, atol=1e-4)
    assert np.allclose(fresh.development, bundled.development, atol=1e-4)
    assert fresh.card["trained_on"] == bundled.card["trained_on"]
    assert out.stat().st_size < 20_000_000


RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>wire</title>
<item><guid>t1</guid><title>China approves first imports of Nvidia's H200 AI chips</title>
<link>https://news.example.com/t1</link><pubDate>{now}</pubDate></item>
<item><guid>n1</guid><title>Fish and chip shop in Whitby named the best in Britain</title>
<link>https://news.example.com/n1</link><pubDate>{now}</pubDate></item>
</channel></rss>"""


def test_run_records_what_it_held_back_and_status_and_replay_show_it(tmp_path: Path) -> None:
    import subprocess
    import sys
    from datetime import UTC, datetime
    from email.utils import format_datetime

    (tmp_path / "wire.rss").write_text(RSS.format(now=format_datetime(datetime.now(UTC))),
                                       encoding="utf-8")
    config = tmp_path / "chipwatch.yaml"
    config.write_text((CONFIG % "") + "feeds:\n  - {name: wire, url: wire.rss}\n"
                      "state: {path: state.db}\n", encoding="utf-8")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in __import__("os").environ.items() if k != "SLACK_BOT_TOKEN"}
        return subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(config)],
                              capture_output=True, text=True, cwd=ROOT, env=env, check=False)

    run = cli("run", "--once")
    assert run.returncode == 0, run.stderr
    assert "H200" in run.stdout and "Whitby" not in run.stdout
    status = cli("status")
    assert "held back 1 alerts" in status.stdout, status.stdout
    assert "irrelevant" in status.stdout and "Whitby" in status.stdout
    replay = json.loads(cli("replay", "--json").stdout)
    held = [s for s in replay["stories"] if s["change"] == "held"]
    assert [s["title"] for s in held] == ["Fish and chip shop in Whitby named the best in Britain"]
    assert 0 <= held[0]["relevance_held"][0] < 0.05


def test_bundled_model_keeps_every_headline_the_rules_catch_in_the_headline_sets() -> None:
    """The rules' headline sets (dev sets now, see their README): the bundled model must not
    drop a positive the rules alert on, and general news stays quiet."""
    from datetime import UTC, datetime

    from bot.models import Item
    from bot.relevance import Fate
    from bot.rules.engine import match

    config = load_config(ROOT / "config" / "chipwatch.yaml", lint=False)
    judge = config.relevance
    assert judge is not None
    now = datetime.now(UTC)
    headlines = ROOT / "tests" / "fixtures" / "headlines"
    dropped, alerted_negatives, negatives = [], [], 0
    for name in ("labelled.tsv", "heldout.tsv", "heldout-2.tsv"):
        for line in (headlines / name).read_text(encoding="utf-8").splitlines():
            label, _, rest = line.partition("\t")
            if label not in ("0", "1"):
                continue
            title = rest.split("\t")[0]
            m = match(config.rules, title, now)
            if m is None:
                continue
            fate = judge.decide(Item("h", "f", title, "", "", now, now), m)[1]
            if label == "1" and fate is not Fate.ALERT:
                dropped.append(title)
    for title in (headlines / "uci-news-dev-titles.txt").read_text().splitlines():
        negatives += 1
        m = match(config.rules, title, now)
        if m is not None and judge.decide(Item("u", "f", title, "", "", now, now), m)[1] \
                is Fate.ALERT:
            alerted_negatives.append(title)
    assert not dropped
    assert len(alerted_negatives) <= 0.005 * negatives, alerted_negatives


def test_a_rule_that_opts_out_is_not_judged(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "chipwatch.yaml"
    config.write_text((CONFIG % "").replace("    severity: medium\n",
                                            "    severity: medium\n    relevance: false\n"),
                      encoding="utf-8")
    assert main(["backtest", "--config", str(config), "--json", str(_archive(tmp_path))]) == 0
    sent = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    parents = {m["id"] for m in sent if m["kind"] == "parent"}
    assert {"n1", "n2"} <= parents  # the rule's own word, unjudged

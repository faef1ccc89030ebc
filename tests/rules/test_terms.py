"""Term and rule semantics: whole words, phrases, prefixes, regexes, all/any/none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.models import Severity
from bot.rules import compile_rule, compile_term, evaluate, fold, match
from bot.rules.terms import Doc


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("H20", "Nvidia H20 sales", True),
        ("H20", "Nvidia H200 sales", False),
        ("H20", "the H20's successor", True),
        ("chip", "Chipotle opens stores", False),
        ("chip", "a chip ban", True),
        ("chip*", "chipmakers rally", True),
        ("chip*", "new chips", True),
        ("chip*", "microchips", False),
        ("entity list", "added to the Entity List on Monday", True),
        ("entity list", "added to the entity-list", True),
        ("entity list", "entity listing", False),
        ("export control*", "new export controls", True),
        ("H-200", "H-200 shipment", True),
        ("/h\\d{2,3}[a-z]?/", "the H100 and H800", True),
        ("/h\\d{2,3}[a-z]?/", "hello", False),
        ("China", "CHINA's customs", True),
        ("licen*", "Licence granted", True),
        ("H200", "H\u200b200 chips", True),  # a zero-width space cannot hide a keyword
        ("U.S.", "the U.S. Commerce Department", True),
    ],
)
def test_term_matching(term: str, text: str, hit: bool) -> None:
    assert compile_term(term).search(fold(text)) is hit


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("=Intel", "Intel to cut 15% of workforce", True),
        ("=Intel", "BIS revokes Intel's licence", True),
        ("=Intel", "Senators on intel panel demand documents", False),
        ("=Intel", "INTEL SHARES FALL", False),
        ("=Intel", "Intelsat launches satellite", False),
        ("=NAND", "NAND flash prices rise", True),
        ("=NAND", "Lisa Nandy says", False),
        ("=NAND", "the shadow secretary, Lisa Nand", False),
        ("=Chip Roy", "Rep. Chip Roy blasts bill", True),
        ("=Chip Roy", "chip royalties", False),
        ("=Micro*", "Microchip Technology and Micron", True),
        ("=Micro*", "microchips in vaccines", False),
        ("= Intel", "Intel Corp", True),
    ],
)
def test_case_sensitive_terms(term: str, text: str, hit: bool) -> None:
    t = compile_term(term)
    assert t.cased and t.found(Doc(text)) is hit


def test_case_sensitive_term_in_a_rule() -> None:
    rules = [compile_rule("intel", tags=[], severity=Severity.LOW,
                          all_groups=[["=Intel", "AMD"], ["export*"]])]
    assert match(rules, "US curbs Intel exports to China") is not None
    assert match(rules, "intel exports: what the spies say") is None


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("title:ban*", "US bans chip exports\nThe rule takes effect today", True),
        ("title:ban*", "Chipmakers report earnings\nDespite the US ban on exports", False),
        ("title:ban*", "US bans chip exports", True),  # no summary: the text is the title
        ("title:=Intel", "Intel halts shipments\nintel says", True),
        ("title:=Intel", "intel panel meets\nIntel says", False),
        ("title:/h\\d{3}/", "Nvidia H100 sales\nmore", True),
        ("title:/h\\d{3}/", "Nvidia sales\nH100 more", False),
        ("title:title:ban", "ban\nx", True),
    ],
)
def test_title_scoped_terms(term: str, text: str, hit: bool) -> None:
    t = compile_term(term)
    assert t.title and t.found(Doc(text)) is hit


def test_title_scoped_list_in_a_rule() -> None:
    rules = [compile_rule("r", tags=[], severity=Severity.LOW,
                          all_groups=["$chip", "title:$act"],
                          lists={"chip": ["chip*"], "act": ["curb*", "export ban"]})]
    assert match(rules, "New export ban\non advanced chips to China") is not None
    assert match(rules, "Chipmaker profits rise\ndespite curbs on sales to China") is None
    ev = evaluate(rules, "Chipmaker profits rise\ndespite curbs")[0]
    assert ev.all_hits == ("chip*", None)


@pytest.mark.parametrize(
    "bad", ["", "  ", "*", "ch*ip", "/(a+)+$/", "/[unclosed/", "=", "=*", "title:", "title:ch*ip"]
)
def test_bad_terms_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        compile_term(bad)


def _rule() -> list:  # type: ignore[type-arg]
    return [compile_rule(
        "cn-nvidia", tags=["nvidia", "china"], severity=Severity.HIGH,
        all_groups=["$nv", ["China", "Chinese", "Beijing"]],
        any_terms=["approv*", "import*"], none_terms=["rumor"],
        lists={"nv": ["H200", "H20"]},
    ), compile_rule("any-only", tags=["smuggling"], severity=Severity.CRITICAL,
                    any_terms=["smuggl*"])]


def test_all_any_none() -> None:
    rules = _rule()
    m = match(rules, "China approves first imports of Nvidia's H200 AI chips, sources say")
    assert m is not None and m.rule_ids == ("cn-nvidia",)
    assert m.tags == {"nvidia", "china"} and m.severity is Severity.HIGH
    assert m.hits[0].terms == ("H200", "China", "approv*", "import*")
    assert match(rules, "China approves H2000 imports") is None  # no all-group hit
    assert match(rules, "China and the H200: an essay") is None  # no any-term
    assert match(rules, "China approves H200 imports, rumor says") is None  # none-term
    both = match(rules, "Beijing approves H20 imports as smuggling case opens")
    assert both is not None and both.severity is Severity.CRITICAL
    assert both.tags == {"nvidia", "china", "smuggling"}


def test_evaluate_explains_misses() -> None:
    ev = evaluate(_rule(), "China approves H200 imports, rumor says")[0]
    assert not ev.fired and ev.none_hits == ("rumor",)
    assert ev.reasons() == ["none-term 'rumor' matched"]
    ev = evaluate(_rule(), "Beijing weighs imports")[0]
    assert ev.reasons() == ["no term of all-group [H200, H20]"]


def test_muted_rule_does_not_fire_until_its_time() -> None:
    rule = compile_rule("m", tags=["x"], severity=Severity.LOW, any_terms=["tariff*"],
                        mute_until=datetime(2026, 2, 1, tzinfo=UTC))
    assert match([rule], "new tariffs", datetime(2026, 1, 31, tzinfo=UTC)) is None
    assert match([rule], "new tariffs", datetime(2026, 2, 2, tzinfo=UTC)) is not None


def test_lists_may_name_lists_but_not_themselves() -> None:
    lists = {"cn": ["China", "Beijing"], "asia": ["$cn", "Japan"], "loop": ["$loop2"],
             "loop2": ["$loop"]}
    rule = compile_rule("x", tags=[], severity=Severity.LOW, any_terms=["$asia"], lists=lists)
    assert [t.raw for t in rule.any_terms] == ["China", "Beijing", "Japan"]
    with pytest.raises(ValueError, match="circular"):
        compile_rule("y", tags=[], severity=Severity.LOW, any_terms=["$loop"], lists=lists)


def test_unknown_list_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        compile_rule("x", tags=[], severity=Severity.LOW, any_terms=["$nope"])

"""streamtrack.params: one specification per operation, and what derives from it."""
import inspect

import pytest

import streamtrack as tp
from streamtrack.cli import build_parser
from streamtrack.linking import Linker
from streamtrack.params import LINK, LOCATE, PREDICTORS, predictor_class

# locate arguments that are not options of a run (the image; trackpy's no-ops)
NOT_OPTIONS = ("raw_image", "filter_before", "filter_after", "engine")


def test_locate_spec_is_locates_signature():
    signature = inspect.signature(tp.locate).parameters
    options = [n for n in signature if n not in NOT_OPTIONS]
    assert LOCATE.names == options  # a new locate option needs its specification
    for param in LOCATE:
        if not param.required:
            assert param.default == signature[param.name].default, param.name


def test_link_spec_defaults_are_the_linkers():
    signature = inspect.signature(Linker).parameters
    for param in LINK:
        if param.name in ("search_range", "predictor"):
            continue
        assert param.default == signature[param.name].default, param.name
    assert LINK["predictor"].choices == tuple(PREDICTORS)


@pytest.mark.parametrize("operation", [LOCATE, LINK])
def test_every_parameter_has_help_from_the_docstring(operation):
    for param in operation:
        text = operation.help(param.name)
        assert len(text) > 15, param.name
        if param.none is not None:
            assert operation.tooltip(param.name).endswith(f"{param.none} = "
                                                          f"{param.none_means or 'none'}.")
    assert "brightness" in LOCATE.help("minmass")  # locate's own words


def test_form_values_round_trip():
    kwargs = {"diameter": 11, "minmass": None, "topn": None, "percentile": 64}
    form = LOCATE.to_form(kwargs)
    assert form == {"diameter": 11, "minmass": 0, "topn": 0, "percentile": 64}
    assert LOCATE.from_form(form) == kwargs


@pytest.mark.parametrize("kwargs, error, match", [
    ({"diameter": 10}, ValueError, "diameter"),
    ({"diameter": 11, "minmass": float("nan")}, ValueError, "minmass"),
    ({"diameter": 11, "percentile": 150}, ValueError, "percentile"),
    ({"diameter": 11, "topn": 0}, ValueError, "topn"),
    ({"diameter": 11, "minmas": 5}, TypeError, "minmas"),
    ({"minmass": 5}, ValueError, "diameter"),
])
def test_locate_check_is_the_cores_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        LOCATE.check(kwargs)


def test_locate_check_fills_defaults():
    full = LOCATE.check({"diameter": 11, "minmass": 100})
    assert full == {**LOCATE.defaults(), "diameter": 11, "minmass": 100}


@pytest.mark.parametrize("kwargs, match", [
    ({"search_range": 5, "memory": -1}, "memory"),
    ({"search_range": -1}, "search_range"),
    ({"search_range": 5, "predictor": "psychic"}, "predictor"),
])
def test_link_check(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LINK.check(kwargs)


def test_predictor_registry():
    assert predictor_class("none") is None and predictor_class(None) is None
    assert predictor_class("drift") is tp.predict.DriftPredict
    assert predictor_class("NearestVelocityPredict") is tp.predict.NearestVelocityPredict
    with pytest.raises(ValueError, match="drift"):
        predictor_class("psychic")


@pytest.mark.parametrize("text, kind, value", [
    ("11", "odd_size", 11), ("9,11", "odd_size", (9, 11)), ("2.5", "size", 2.5),
    ("3,5", "size", (3.0, 5.0)), ("7", "int", 7)])
def test_command_line_text(text, kind, value):
    param = next(p for p in (*LOCATE, *LINK) if p.kind == kind)
    assert param.parse(text) == value


@pytest.mark.parametrize("text, kind", [("12", "odd_size"), ("x", "size"), ("nan", "float"),
                                        ("1.5", "int")])
def test_command_line_text_refused(text, kind):
    param = next(p for p in (*LOCATE, *LINK) if p.kind == kind)
    with pytest.raises(ValueError, match="expected"):
        param.parse(text)


def test_command_line_options_derive_from_the_specs():
    parser = build_parser()
    args = parser.parse_args(["track", "movie", "-o", "out.h5", "-d", "11", "-s", "3"])
    for param in (*LOCATE, *LINK):
        expected = {"diameter": 11, "search_range": 3.0}.get(param.name, param.default)
        assert getattr(args, param.name) == expected, param.name
    args = parser.parse_args(["track", "movie", "-o", "out.h5", "-d", "9,11", "-s", "3",
                              "--no-characterize", "--invert", "--topn", "5",
                              "--predict", "drift", "--max-subnet-size", "50"])
    assert (args.diameter, args.characterize, args.invert, args.topn, args.predictor,
            args.max_subnet_size) == ((9, 11), False, True, 5, "drift", 50)
    text = parser._subparsers._group_actions[0].choices["locate"].format_help()
    for param in LOCATE:
        assert param.flag in text

"""The command line: bad input is one stderr line, exit 2, no traceback and no files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from minimax.study.cli import build_parser, main


def _files(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


BAD = [
    (["rate", "--D", "0"], "D=0 is not allowed"),
    (["rate", "--s", "-1"], "s=-1.0 is not allowed"),
    (["rate", "--n", "100,200"], "n=[100, 200] is not allowed"),
    (["rate", "--n", "0,100,200"], "n=0 is not allowed"),
    (["rate", "--n=-5,100,200"], "n=-5 is not allowed"),
    (["rate", "--n", "100,abc,200"], "n='100,abc,200' is not allowed"),
    (["rate", "--n-min", "100", "--n-max", "50"], "n_max=50 is not allowed"),
    (["rate", "--estimators", "kde,nope"], "estimator='nope' is not allowed"),
    (["rate", "--replicates", "0"], "replicates=0 is not allowed"),
    (["rate", "--metrics", "kl"], "metric='kl' is not allowed"),
    (["rate", "--M", "10"], "M=10 is not allowed"),
    (["rate", "--M", "lots"], "M='lots' is not allowed"),
    (["rate", "--D", "3", "--metrics", "tv,score"], "metric='score' is not allowed with D=3"),
    (["rate", "--jobs", "0"], "jobs=0 is not allowed"),
    (["rate", "--device", "tpu"], "device='tpu' is not allowed"),
    (["rate", "--scheduler", "tcp://x:1"], "scheduler='tcp://x:1' is not allowed"),
    (["rate", "--set", "kde.c"], "set='kde.c' is not allowed"),
    (["rate", "--set", "ddpm.width=-3"], "width=-3 is not allowed"),
    (["rate", "--D", "two"], "argument --D: invalid int value"),
    (["rate", "--backend", "ray"], "argument --backend: invalid choice"),
    (["rate", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice"),
    # every option is checked before the first cell: names, keys, value types, applicability
    (["rate", "--sampler", "euler2"], "sampler='euler2' is not allowed: expected one of"),
    (["rate", "--set", "ddpm.lrr=1e-3"], "set ddpm.lrr=0.001 is not allowed (did you mean lr?)"),
    (["rate", "--set", "kde.bogus=1"], "set kde.bogus=1 is not allowed: kde takes bandwidth"),
    (
        ["rate", "--estimators", "gan,kde", "--set", "gan.stepz=10"],
        "set gan.stepz=10 is not allowed",
    ),
    (
        ["rate", "--estimators", "vae", "--set", "vae.depth=two"],
        "set vae.depth='two' is not allowed",
    ),
    (["rate", "--set", "kde.order=two"], "set kde.order='two' is not allowed: expected an integer"),
    (
        ["rate", "--set", "ddpm.ema_decay=x"],
        "set ddpm.ema_decay='x' is not allowed: expected a number",
    ),
    (
        ["rate", "--estimators", "vae", "--set", "vae.lr=[1e-3, 'a']"],
        "set vae.lr=[0.001, 'a'] is not allowed: expected a number or a non-empty list of numbers",
    ),
    (["rate", "--estimators", "vae", "--set", "vae.lr=[]"], "set vae.lr=[] is not allowed"),
    # a list is a grid only where the class chooses from one (the VAE's lr), never elsewhere
    (
        ["rate", "--set", "ddpm.ema_decay=[0.9]"],
        "set ddpm.ema_decay=[0.9] is not allowed: expected a",
    ),
    (["rate", "--set", "gaussian.c=1"], "set gaussian.c=1 is not allowed: gaussian takes no"),
    (["rate", "--set", "kde.order=3"], "set kde.order=3 is not allowed: expected one of 2, 4, 6"),
    (["rate", "--set", "ddpm.sampler=euler2"], "set ddpm.sampler='euler2' is not allowed"),
    (
        ["rate", "--metrics", "score", "--estimators", "kde"],
        "metric='score' is not allowed with estimators kde: it applies only to ddpm",
    ),
    (
        ["rate", "--metrics", "tv,oracle_tv", "--estimators", "kde,uniform"],
        "metric='oracle_tv' is not allowed with estimators kde,uniform",
    ),
    # no prefix matching: an abbreviation is an unknown option
    (["rate", "--estimator", "kde"], "unrecognized arguments: --estimator kde"),
    (["rate", "--d", "2"], "unrecognized arguments: --d 2"),
    (["report", "x", "--no-fig"], "unrecognized arguments: --no-fig"),
    (["sweep", "missing.toml"], "study file='missing.toml' is not allowed"),
    (["report", "nowhere"], "results folder='nowhere' is not allowed"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path, monkeypatch, capsys, argv, message
):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("python -m minimax.study: error: ")
    assert message in err
    assert _files(tmp_path) == []


def test_out_that_is_a_file_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("x")
    assert main(["rate", "--D", "1", "--s", "1", "--estimators", "kde", "--out", "taken"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out='taken' is not allowed: it is a file" in err
    assert _files(tmp_path) == ["taken"]


def test_malformed_study_file_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text('name = "x"\n[[grid]\nD = 1\n')
    assert main(["sweep", "bad.toml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "malformed TOML" in err
    assert _files(tmp_path) == ["bad.toml"]


def test_target_checks_fail_before_any_file(tmp_path, monkeypatch, capsys):
    # s must exceed D(1/p - 1/2)_+ = 1.5 for D = 3, p = 1: the target refuses, before any folder
    monkeypatch.chdir(tmp_path)
    assert main(["rate", "--D", "3", "--s", "1", "--p", "1", "--estimators", "kde"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s=1.0 is not allowed" in err
    assert _files(tmp_path) == []


def test_a_real_process_exits_2_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "minimax.study", "rate", "--D", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "D=0 is not allowed" in proc.stderr
    assert _files(tmp_path) == []


def test_help_explains_every_option_with_its_default(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("rate", "sweep"):
        p = sub.choices[name]
        with pytest.raises(SystemExit):
            p.parse_args(["--help"])
        text = capsys.readouterr().out
        for action in p._actions:
            if action.dest in ("help", "file") or action.help is None:
                continue
            assert action.option_strings[-1] in text
            if isinstance(action.default, bool):  # flags: off unless given
                continue
            assert "default" in p.formatter_class(p.prog)._get_help_string(action), action.dest


def test_list_names_estimators_metrics_and_presets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("kde", "uniform", "gaussian", "tv", "quick", "paper", "besov"):
        assert word in out

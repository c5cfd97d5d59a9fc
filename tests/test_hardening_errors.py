"""Issue 16, part 6: user-facing errors are one line and exit 2; the renderer survives bad
result files and escapes markup; malformed checkpoints never give a traceback."""

import json
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gunshot_bench.checkpoint import CheckpointError, load_arrays, load_state_dict, malformed
from gunshot_bench.cli import main as cli_main
from gunshot_bench.models import get, load_model
from gunshot_bench.results import write_result

sys.path.insert(0, str(Path(__file__).parent))
from synth_clips import make_dataset  # noqa: E402
from test_results import make_result  # noqa: E402


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


# -- malformed checkpoints -------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_lda(tmp_path_factory) -> Path:
    X, y = make_dataset(6, [3, 5], seed=0, tag="train")
    directory = tmp_path_factory.mktemp("ckpt") / "lda"
    get("lda", random_state=0).fit(X, y).save(directory)
    return directory


@pytest.fixture
def lda(saved_lda, tmp_path) -> Path:
    return Path(shutil.copytree(saved_lda, tmp_path / "lda"))


def test_intact_checkpoint_loads(lda):
    assert load_model(lda).classes_.tolist() == [3, 5]


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "model.json").write_text("{ not json"), "model.json: not valid JSON"),
    (lambda d: (d / "model.json").write_text("[1, 2]"), "model.json: expected a JSON dict, found a list"),
    (lambda d: (d / "model.json").write_text(json.dumps({k: v for k, v in json.loads(
        (d / "model.json").read_text()).items() if k != "meta"})), "malformed checkpoint (KeyError: 'meta')"),
    (lambda d: (d / "est0.npz").write_bytes(b"PK\x03\x04 not a zip"), "est0.npz: not a readable array file"),
    (lambda d: np.savez(d / "est0.npz", obj=np.array([{"a": 1}], dtype=object)), "est0.npz: not a readable array file"),
])
def test_malformed_classical_checkpoint_is_one_checkpoint_error(lda, damage, message):
    damage(lda)
    with pytest.raises(CheckpointError) as err:
        load_model(lda)
    assert message in str(err.value) and "\n" not in str(err.value)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_torch_weights_that_are_a_pickle_or_garbage_are_refused(tmp_path, capsys):
    evil = tmp_path / "evil.pt"
    torch.save({"w": _Evil()}, evil)
    with pytest.raises(CheckpointError, match="evil.pt: not a readable torch state dict"):
        load_state_dict(evil)
    assert "this must never run" not in capsys.readouterr().out
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x04not a pickle at all")
    with pytest.raises(CheckpointError, match="garbage.pt: not a readable torch state dict"):
        load_state_dict(garbage)
    plain = tmp_path / "plain.npz"
    plain.write_bytes(b"")
    with pytest.raises(CheckpointError):
        load_arrays(plain)


def test_state_dict_with_unexpected_keys_is_a_checkpoint_error(tmp_path):
    net = torch.nn.Linear(3, 2)
    with pytest.raises(CheckpointError, match="malformed checkpoint \\(RuntimeError: Error\\(s\\) in loading state_dict"):
        with malformed(tmp_path / "model"):
            net.load_state_dict({"weight": torch.zeros(2, 3), "surprise": torch.zeros(1)})


def test_predict_with_a_malformed_run_is_one_line_exit_2(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "config.json").write_text("[]")
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")
    assert cli_main(["predict", "--model", str(run), str(wav)]) == 2
    assert "config.json: expected a JSON dict" in one_line_error(capsys)


# -- publish without a token or a network -----------------------------------------------------

@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    from gunshot_bench.dataset.build import BuildConfig, build_dataset
    from tests.conftest import shot_train, write

    for k in range(2):
        write(tmp_path / "c" / "glock_17" / f"t{k}.wav", shot_train(k, duration_s=2.2))
    build_dataset(BuildConfig(sources=(("folder", str(tmp_path / "c")),), out_dir=str(tmp_path / "ds"), workers=1),
                  progress=False)
    return tmp_path / "ds"


def test_publish_without_token_is_one_line(tiny_dataset, monkeypatch, capsys):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert cli_main(["publish", "--data", str(tiny_dataset), "--repo", "org/name", "--tag", "v0.1.0"]) == 2
    assert "no Hugging Face token" in one_line_error(capsys)


@pytest.mark.parametrize("offline", [True, False])
def test_publish_offline_or_unreachable_is_one_line(tiny_dataset, monkeypatch, capsys, offline):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert cli_main(["publish", "--data", str(tiny_dataset), "--repo", "org/name", "--tag", "v0.1.0"]) == 2
    err = one_line_error(capsys)
    assert "cannot reach the Hugging Face Hub" in err and str(tiny_dataset) in err


# -- invalid numeric options -------------------------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["build", "--source", "folder=.", "--out", "x", "--workers", "-1"], "--workers"),
    (["build", "--source", "folder=.", "--out", "x", "--file-timeout", "0"], "--file-timeout"),
    (["build", "--source", "folder=.", "--out", "x", "--file-timeout", "nan"], "--file-timeout"),
    (["train", "--data", "d", "--model", "lda", "--out", "o", "--max-epochs", "0"], "--max-epochs"),
    (["train", "--data", "d", "--model", "lda", "--out", "o", "--seed", "-2"], "--seed"),
    (["leaderboard", "--data", "d", "--seeds", "0"], "--seeds"),
    (["robustness", "--data", "d", "--seeds", "-3"], "--seeds"),
])
def test_invalid_numeric_options_are_one_line_exit_2(argv, option, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(argv)
    assert exit_.value.code == 2
    err = one_line_error(capsys)
    assert f"argument {option}: must be" in err


# -- the renderer: bad result files are skipped, markup is escaped ----------------------------------

def test_render_skips_latin1_and_overlong_result_files(tmp_path):
    from gunshot_bench.leaderboard import render_leaderboard

    results = tmp_path / "results"
    write_result(results / "svm__category__clean.json", make_result("svm", "category", 0.7))
    (results / "latin1.json").write_bytes(json.dumps({"notes": "caf\u00e9"}).encode("latin-1").replace(b"\\u00e9", b"\xe9"))
    long_name = "x" * 240 + ".json"
    (results / long_name).write_text(json.dumps(make_result("lda", "category", 0.6)))
    out = render_leaderboard(results, tmp_path)
    reasons = {b.path.name: b.reason for b in out.bad}
    assert "not UTF-8 text (byte 0xe9" in reasons["latin1.json"]
    assert "file name over 200 bytes" in reasons[long_name]
    assert out.n_results == 1 and "| svm |" in out.markdown.read_text()


def test_leaderboard_markdown_escapes_markup_from_result_fields(tmp_path):
    from gunshot_bench.leaderboard import render_leaderboard

    result = make_result("svm", "category", 0.7)
    result["model"]["entry"] = result["model"]["name"] = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    result["dataset"]["name"] = "<b onmouseover=alert(3)>sim</b>"
    write_result(tmp_path / "results" / "svm__category__clean.json", result)
    md = render_leaderboard(tmp_path / "results", tmp_path, draw_plots=False).markdown.read_text()
    assert "| &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; |" in md
    assert "## &lt;b onmouseover=alert(3)&gt;sim&lt;/b&gt;" in md
    body = md.split("\n", 1)[1]  # the first line is the page's own generated-by comment
    assert "<script" not in body and "<img" not in body and "<b " not in body


@pytest.mark.parametrize("setting, message", [
    ("n_mfcc=-3", "lda hyperparameter n_mfcc must be a whole number >= 1 (default 20), got -3"),
    ("n_mfcc=2.5", "n_mfcc must be a whole number >= 1"),
])
def test_invalid_hyperparameter_override_is_refused_before_reading_data(setting, message, tmp_path, capsys):
    code = cli_main(["train", "--data", str(tmp_path / "no_such_dataset"), "--no-verify", "--model", "lda",
                     "--task", "category", "--out", str(tmp_path / "run"), "--set", setting])
    assert code == 2 and message in one_line_error(capsys)


def test_valid_hyperparameters_still_construct():
    from gunshot_bench.models import get

    assert get("lda", n_mfcc=13).n_mfcc == 13 and get("svm", C=0.5).C == 0.5
    with pytest.raises(ValueError, match="svm hyperparameter C must be a finite number >= 0"):
        get("svm", C=float("nan"))

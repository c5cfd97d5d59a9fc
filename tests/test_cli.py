from gunshot_bench.cli import main


def test_missing_source_is_a_one_line_error(tmp_path, capsys):
    code = main(["build", "--source", f"folder={tmp_path / 'nope'}", "--out", str(tmp_path / "ds"), "--variants", "none"])
    err = capsys.readouterr().err
    assert code == 2 and "no such folder" in err and "Traceback" not in err
    assert not (tmp_path / "ds").exists()


def test_source_needs_kind_and_path(tmp_path, capsys):
    assert main(["build", "--source", str(tmp_path), "--out", str(tmp_path / "ds")]) == 2
    assert "KIND=PATH" in capsys.readouterr().err


def test_source_with_an_empty_side_is_refused(tmp_path, capsys):
    for bad in (f"={tmp_path}", "folder="):
        assert main(["build", "--source", bad, "--out", str(tmp_path / "ds")]) == 2
        assert f"got '{bad}'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--source", "folder="]) == 2
    assert "KIND=PATH" in capsys.readouterr().err

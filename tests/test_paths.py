"""Where outputs go: the -o rules of the CLI contract."""

from pathlib import Path

import pytest

from enhance_cli.paths import UsageError, plan_jobs


@pytest.fixture
def images(tmp_path):
    for name in ("a.png", "b.jpg", "sub/c.png", ".hidden.png", "a_restore.png", "notes.txt"):
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return tmp_path / "in"


def test_default_output_sits_next_to_the_input(images):
    [job] = plan_jobs([str(images / "b.jpg")], None, "restore")
    assert job.output == str(images / "b_restore.png") and job.format == "png"


def test_single_output_file_takes_its_format_from_the_extension(images, tmp_path):
    [job] = plan_jobs([str(images / "a.png")], str(tmp_path / "out.tif"), "restore")
    assert job.output == str(tmp_path / "out.tif") and job.format == "tiff"


def test_unknown_extension_is_a_usage_error(images, tmp_path):
    with pytest.raises(UsageError):
        plan_jobs([str(images / "a.png")], str(tmp_path / "out.xyz"), "restore")


def test_directory_input_skips_hidden_files_and_earlier_results(images, tmp_path):
    jobs = plan_jobs([str(images)], str(tmp_path / "out"), "restore")
    assert [Path(j.source).name for j in jobs] == ["a.png", "b.jpg"]
    assert [Path(j.output).name for j in jobs] == ["a.png", "b.png"]


def test_recursive_keeps_the_sub_directory(images, tmp_path):
    jobs = plan_jobs([str(images)], str(tmp_path / "out"), "restore", recursive=True)
    assert str(tmp_path / "out" / "sub" / "c.png") in [j.output for j in jobs]


def test_trailing_slash_means_directory(images, tmp_path):
    [job] = plan_jobs([str(images / "a.png")], str(tmp_path / "new") + "/", "restore", format="webp")
    assert job.output == str(tmp_path / "new" / "a.webp")


def test_several_inputs_need_a_directory(images, tmp_path):
    jobs = plan_jobs([str(images / "a.png"), str(images / "b.jpg")], str(tmp_path / "d"), "restore")
    assert [Path(j.output).parent for j in jobs] == [tmp_path / "d"] * 2


def test_stdout_takes_exactly_one_input(images):
    with pytest.raises(UsageError):
        plan_jobs([str(images / "a.png"), str(images / "b.jpg")], "-", "restore")
    [job] = plan_jobs(["-"], None, "restore")
    assert job.source == "-" and job.output == "-"


def test_missing_input_becomes_a_failing_job_not_a_usage_error(tmp_path):
    [job] = plan_jobs([str(tmp_path / "nope.png")], None, "restore")
    assert job.problem == "no such file or directory"


def test_outputs_that_clash_mark_every_input_that_would_write_them(images, tmp_path):
    (images / "a.jpg").write_bytes(b"")
    jobs = {Path(j.source).name: j for j in plan_jobs([str(images)], str(tmp_path / "out"), "restore")}
    assert "a.jpg" in jobs["a.png"].problem and "same output" in jobs["a.png"].problem
    assert "a.png" in jobs["a.jpg"].problem
    assert jobs["b.jpg"].problem is None


def test_an_output_that_is_the_input_is_marked(images):
    [job] = plan_jobs([str(images / "a.png")], str(images / "a.png"), "restore")
    assert "input itself" in job.problem


def test_several_inputs_with_a_file_name_are_a_usage_error(images, tmp_path):
    with pytest.raises(UsageError, match="names a file"):
        plan_jobs([str(images / "a.png"), str(images / "b.jpg")], str(tmp_path / "x.png"), "restore")
    assert not (tmp_path / "x.png").exists()


def test_an_empty_input_name_is_a_usage_error_not_the_current_folder(images, monkeypatch):
    monkeypatch.chdir(images)  # Path("") is "."; an unset shell variable must not process the folder
    with pytest.raises(UsageError, match="empty"):
        plan_jobs([""], None, "restore")
    with pytest.raises(UsageError, match="empty"):
        plan_jobs(["a.png"], "", "restore")


def test_an_output_folder_inside_the_input_tree_is_not_read_again(images):
    outputs = images / "out"
    (outputs / "sub").mkdir(parents=True)
    (outputs / "a.png").write_bytes(b"")  # an earlier run's results
    (outputs / "sub" / "c.png").write_bytes(b"")
    jobs = plan_jobs([str(images)], str(outputs) + "/", "restore", recursive=True)
    assert sorted(Path(j.source).relative_to(images).as_posix() for j in jobs) == ["a.png", "b.jpg", "sub/c.png"]


def test_an_existing_file_as_the_output_of_several_inputs_is_a_usage_error(images, tmp_path):
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(UsageError, match="is an existing file"):
        plan_jobs([str(images / "a.png"), str(images / "b.jpg")], str(tmp_path / "notes.txt"), "restore")
    assert (tmp_path / "notes.txt").read_text() == "keep"

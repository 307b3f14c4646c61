"""History images in the exports: where they come from, their documented form, and the checks."""

from __future__ import annotations

import base64
import io
import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pasta_distill.schemas import gemini_problems, openai_problems


def _invoke(*args):
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    return CliRunner().invoke(cli, [*args])


def _png(size=(8, 8), mode="RGB", kind="PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, 128).save(buffer, format=kind)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _picture(data: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(data))


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def _openai_images(line) -> list[bytes]:
    content = line["messages"][1]["content"]
    if isinstance(content, str):
        return []
    urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    assert all(u.startswith("data:image/png;base64,") for u in urls)
    return [base64.b64decode(u.split(",", 1)[1]) for u in urls]


def _gemini_images(line) -> list[bytes]:
    parts = line["contents"][0]["parts"]
    assert all(p["inlineData"]["mimeType"] == "image/png" for p in parts if "inlineData" in p)
    return [base64.b64decode(p["inlineData"]["data"]) for p in parts if "inlineData" in p]


@pytest.fixture(scope="module")
def session_folder(tmp_path_factory):
    """A 3-turn session folder of `pasta run` with 96-pixel images."""
    runs = tmp_path_factory.mktemp("runs")
    ran = _invoke("run", "--user", "sim", "--turns", "3", "--prompt", "a red fox", "--out", str(runs),
                  "--t2i-option", "size=96")
    assert ran.exit_code == 0, ran.output
    (folder,) = runs.iterdir()
    return folder


def test_recorded_sessions_carry_the_chosen_images_of_every_earlier_turn(session_folder, teacher_model, tmp_path):
    """--images all: row t holds the chosen column's files of turns 1..t-1, scaled to --image-size, in all formats."""
    from pasta_core.folder import SessionFolder
    from pasta_core.store import read_trajectories
    from pasta_distill.history_images import png_of

    out = tmp_path / "data"
    result = _invoke("distill", "data", "--sessions", str(session_folder), "--teacher-option", f"model={teacher_model}",
                     "--images", "all", "--image-size", "48", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    (trajectory,) = read_trajectories(session_folder / "trajectory.parquet")
    files = SessionFolder(session_folder)
    chosen = [[png_of(files.read_image(ref), 48) for ref in t.image_refs[t.choice]] for t in trajectory.turns]
    expected = [[], chosen[0], chosen[0] + chosen[1]]
    openai, gemini = _lines(out / "openai.jsonl"), _lines(out / "gemini.jsonl")
    assert [_openai_images(line) for line in openai] == expected
    assert [_gemini_images(line) for line in gemini] == expected
    assert isinstance(openai[0]["messages"][1]["content"], str)  # turn 1: nothing seen yet, text only
    assert all(_picture(png).size == (48, 48) and _picture(png).format == "PNG" for png in chosen[0])
    assert all(openai_problems(line, max_side=48) == [] for line in openai)
    assert all(gemini_problems(line, max_side=48) == [] for line in gemini)
    captions = [p["text"] for p in openai[2]["messages"][1]["content"][1::2]]
    assert captions[0] == f"Turn 1, column {trajectory.turns[0].choice + 1} (chosen), image 1 of 4:"
    table = pq.read_table(out / "pairs.parquet")
    assert table.column("images").to_pylist() == expected
    assert table.column("image_captions").to_pylist()[2] == captions
    summary = json.loads((out / "data.json").read_text())
    assert summary["images"]["mode"] == "all" and summary["images"]["images"] == 12
    assert summary["files"]["openai"]["bytes"] == (out / "openai.jsonl").stat().st_size


def test_last_keeps_only_the_previous_turns_images(session_folder, teacher_model, tmp_path):
    from pasta_distill.export import read_pairs

    out = tmp_path / "data"
    result = _invoke("distill", "data", "--sessions", str(session_folder), "--teacher-option", f"model={teacher_model}",
                     "--images", "last", "--format", "parquet", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "pairs.parquet")
    captions = table.column("image_captions").to_pylist()
    assert [len(c) for c in captions] == [0, 4, 4]
    assert all(c.startswith("Turn 2,") for c in captions[2])
    assert all(_picture(png).size == (96, 96) for png in table.column("images").to_pylist()[2])  # never scaled up
    assert [p.turn for p in read_pairs([out])] == [1, 2, 3]  # the trainer reads it as before


def test_simulated_sessions_are_rendered_again_from_their_seeds(teacher_model, tmp_path):
    """The teacher's simulated sessions keep no image files: their images are rendered from
    the recorded prompts and seeds; --max-images keeps whole turns, the latest first."""
    from pasta_core.plugins import get_plugins
    from pasta_core.store import read_trajectories
    from pasta_distill.history_images import png_of

    out = tmp_path / "data"
    result = _invoke("distill", "data", "--simulate", "1", "--teacher-option", f"model={teacher_model}", "--images",
                     "all", "--max-images", "10", "--format", "openai", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    (shard,) = (out / "simulated").glob("*.parquet")
    (trajectory,) = read_trajectories(shard)
    assert not any(t.image_refs for t in trajectory.turns)
    t2i = get_plugins().create("t2i", "procedural", size=64)
    chosen = [[png_of(image, 256) for image in t2i.render([t.chosen.text] * 4, list(t.seeds[t.choice]))]
              for t in trajectory.turns]
    images = [_openai_images(line) for line in _lines(out / "openai.jsonl")]
    assert [len(i) for i in images] == [0, 4, 8, 8, 8]  # 12 and 16 are over 10: turns 2-3, then 3-4
    assert images[2] == chosen[0] + chosen[1] and images[4] == chosen[2] + chosen[3]
    assert _picture(images[1][0]).size == (64, 64)


@pytest.mark.parametrize(("args", "message"), [
    (["--images", "last"], "has no recorded images"),  # a trajectory file without image files
    (["--images", "all", "--max-images", "20"], "is over OpenAI's documented 10 images an example"),
])
def test_image_mistakes_are_one_line(sessions, teacher_model, tmp_path, args, message):
    result = _invoke("distill", "data", "--sessions", sessions, "--teacher-option", f"model={teacher_model}",
                     "--out", str(tmp_path / "data"), "--quiet", *args)
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not list((tmp_path / "data").glob(".*.tmp"))  # no unfinished file left behind


def test_a_missing_image_file_is_named(session_folder, teacher_model, tmp_path):
    import shutil

    copy = tmp_path / "session"
    shutil.copytree(session_folder, copy)
    shutil.rmtree(copy / "images" / "turn-1")
    result = _invoke("distill", "data", "--sessions", str(copy), "--teacher-option", f"model={teacher_model}",
                     "--images", "last", "--out", str(tmp_path / "data"), "--quiet")
    assert result.exit_code != 0 and "turn 1: image file" in result.output and "is missing" in result.output
    assert len(result.output.strip().splitlines()) == 1


PNG = _png()
GOOD_OPENAI = {"messages": [
    {"role": "system", "content": "s"},
    {"role": "user", "content": [{"type": "text", "text": "u"},
                                 {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_b64(PNG)}"}},
                                 {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
    {"role": "assistant", "content": "a"}]}
GOOD_GEMINI = {"contents": [
    {"role": "user", "parts": [{"text": "u"}, {"inlineData": {"mimeType": "image/png", "data": _b64(PNG)}}]},
    {"role": "model", "parts": [{"text": "a"}]}]}


def _openai_with(part, role="user", count=1):
    return {"messages": [{"role": role, "content": [{"type": "text", "text": "u"}, *[part] * count]},
                         {"role": "assistant", "content": "a"}]}


def _image_url(url):
    return {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize(("line", "found"), [
    (_openai_with(_image_url(f"data:image/png;base64,{_b64(PNG)}"), role="system"), "only in user messages"),
    ({"messages": [{"role": "user", "content": "u"},
                   {"role": "assistant", "content": [_image_url(f"data:image/png;base64,{_b64(PNG)}")]}]},
     "only in user messages"),
    (_openai_with(_image_url("data:image/png;base64,***not base64***")), "not base64"),
    (_openai_with(_image_url(f"data:image/png;base64,{_b64(_png(kind='JPEG'))}")), "is a JPEG image, not image/png"),
    (_openai_with(_image_url(f"data:image/png;base64,{_b64(b'not a picture')}")), "not a readable image/png"),
    (_openai_with(_image_url(f"data:image/gif;base64,{_b64(PNG)}")), "is not one of"),
    (_openai_with(_image_url(f"data:image/png;base64,{_b64(_png(mode='L'))}")), "not RGB or RGBA"),
    (_openai_with(_image_url(f"data:image/png;base64,{_b64(_png((40, 20)))}")), "over the stated 32 px"),
    (_openai_with(_image_url("ftp://example.com/a.png")), "http(s) URL or a data:"),
    (_openai_with(_image_url(f"data:image/png;base64,{_b64(PNG)}"), count=11), "11 images, over the documented 10"),
    (_openai_with({"type": "image_url", "image_url": {"link": "x"}}), "is not valid under any of the given"),
    (_openai_with({"type": "image", "data": _b64(PNG)}), "is not valid under any of the given schemas"),
])
def test_malformed_openai_image_parts_are_rejected(line, found):
    assert openai_problems(GOOD_OPENAI, max_side=32) == []
    problems = openai_problems(line, max_side=32)
    assert any(found in p for p in problems), problems


def _gemini_with(part, role="user", count=1):
    user = {"role": "user", "parts": [{"text": "u"}, *([part] * count if role == "user" else [])]}
    model = {"role": "model", "parts": [{"text": "a"}, *([part] * count if role == "model" else [])]}
    return {"contents": [user, model]}


def _inline(mime, data):
    return {"inlineData": {"mimeType": mime, "data": data}}


@pytest.mark.parametrize(("line", "found"), [
    (_gemini_with(_inline("image/png", _b64(PNG)), role="model"), "media parts go in user turns only"),
    (_gemini_with(_inline("image/png", "%%%")), "not base64"),
    (_gemini_with(_inline("image/jpeg", _b64(PNG))), "is a PNG image, not image/jpeg"),
    (_gemini_with(_inline("image/png", _b64(_png((40, 20))))), "over the stated 32 px"),
    (_gemini_with(_inline("image/png", _b64(PNG)), count=31), "31 images, over the documented 30"),
    (_gemini_with({"inlineData": {"mimeType": "image/png"}}), "'data' is a required property"),
    (_gemini_with({"inlineData": {"mimeType": "image/png", "data": _b64(PNG), "uri": "x"}}),
     "Additional properties are not allowed"),
    (_gemini_with({"text": "u", "inlineData": {"mimeType": "image/png", "data": _b64(PNG)}}), "has too many properties"),
])
def test_malformed_gemini_image_parts_are_rejected(line, found):
    assert gemini_problems(GOOD_GEMINI, max_side=32) == []
    problems = gemini_problems(line, max_side=32)
    assert any(found in p for p in problems), problems


def test_a_bad_image_stops_the_export_naming_the_line(pairs, tmp_path):
    """The writer checks each line before writing it: an image over the stated size is refused
    with the file and line, and no file is left half-written."""
    from pasta_core.errors import InvalidValueError
    from pasta_distill.export import PairWriter
    from pasta_llm import ImagePart

    with pytest.raises(InvalidValueError, match=r"openai.jsonl line 2 is not a valid openai .*over the stated 16 px"):
        with PairWriter(tmp_path, images=True, max_side=16) as writer:
            writer.add(pairs[0], [ImagePart("Turn 1:", "image/png", _png((16, 16)))])
            writer.add(pairs[1], [ImagePart("Turn 1:", "image/png", _png((17, 16)))])
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_opened_leaves_no_other_behind(tmp_path):
    """When one format's file cannot be opened (here the Parquet's), the JSONL files already
    opened are removed too: nothing half-made is left in the folder."""
    from pasta_distill.export import PairWriter

    (tmp_path / ".pairs.parquet.tmp").mkdir()  # the Parquet writer cannot open a folder
    with pytest.raises(OSError, match="pairs.parquet.tmp"):  # the Parquet writer's error
        PairWriter(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [".pairs.parquet.tmp"]


def test_simulate_save_images_files_are_read_beside_their_shard(teacher_model, tmp_path):
    """A trajectory file of `pasta simulate --save-images` refers to its images from its own folder."""
    from pasta_core.folder import SessionFolder
    from pasta_core.store import read_trajectories
    from pasta_distill.history_images import png_of

    sim = tmp_path / "sim"
    ran = _invoke("simulate", "--count", "1", "--turns", "2", "--embeddings", "none", "--save-images", "--out", str(sim),
                  "--quiet")
    assert ran.exit_code == 0, ran.output
    (shard,) = sim.glob("*.parquet")
    (trajectory,) = read_trajectories(shard)
    first = trajectory.turns[0]
    expected = [png_of(SessionFolder(sim).read_image(ref), 256) for ref in first.image_refs[first.choice]]
    result = _invoke("distill", "data", "--sessions", str(sim), "--teacher-option", f"model={teacher_model}",
                     "--images", "last", "--format", "gemini", "--out", str(tmp_path / "data"), "--quiet")
    assert result.exit_code == 0, result.output
    assert [_gemini_images(line) for line in _lines(tmp_path / "data" / "gemini.jsonl")] == [[], expected]


def test_a_sessions_images_are_made_once_and_kept_for_that_session_only(pairs):
    """Rows of one session reuse its earlier turns' images; the next session's rows drop them."""
    from PIL import Image

    from pasta_core.types import History
    from pasta_distill.history_images import ImageExport, SessionImages

    calls = []

    class CountingT2I:
        def render(self, prompts, seeds):
            calls.append(len(prompts))
            return [Image.new("RGB", (20, 20), 9) for _ in prompts]

    images = SessionImages(ImageExport("all", size=16), t2i=CountingT2I())
    seeded = [p for p in pairs if p.turn == 5 and p.history.turns[0].seeds][:2]
    assert len(seeded) == 2 and seeded[0].session_id != seeded[1].session_id
    first, second = seeded
    for turn in range(1, 6):
        shown = images.of(first.session_id, History(first.history.initial_prompt, first.history.turns[: turn - 1]))
        assert len(shown) == min(4 * (turn - 1), 8) and all(_picture(i.data).size == (16, 16) for i in shown)
    assert calls == [4, 4, 4, 4]  # each earlier turn rendered once for the whole session
    images.of(second.session_id, second.history)
    assert calls == [4, 4, 4, 4, 4, 4] and images._kept.keys() == {3, 4}  # turns 3-4 of the second session only

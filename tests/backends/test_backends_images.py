"""Earlier turns' images go to Gemini, Anthropic and OpenAI as image parts of the request."""

from __future__ import annotations

import base64
import io

import pytest
from backends_helpers import Provider, answer_for, anthropic_body, gemini_body
from openai_stub import StubServer
from PIL import Image

from pasta_core import Candidate, History, Turn, get_plugins
from pasta_core.config import DEFAULT_CATEGORIES
from pasta_core.protocols import GenerationRequest
from pasta_core.shown import ShownImages
from pasta_llm import RetryPolicy

#: One colour per slate column, so a sent image shows which column it came from.
COLOURS = [(220, 30, 30), (30, 200, 40), (30, 60, 220), (230, 200, 20)]
CHOICES = [2, 0, 3, 1]


def _request(turns: int, keep: str = "all", size: tuple[int, int] = (640, 480)) -> GenerationRequest:
    """Turn ``turns``'s request after ``turns - 1`` answered turns of 4 columns x 4 images."""
    shown = ShownImages(keep)
    history = History("a white cat")
    for t in range(turns - 1):
        cands = [Candidate(f"a white cat, turn {t} {c}", c) for c in DEFAULT_CATEGORIES]
        history = history.append(Turn(cands, cands[:4], CHOICES[t]))
        columns = [[Image.new("RGB", size, colour)] * 4 for colour in COLOURS]
        shown.show(t + 1, [_Column(images) for images in columns])
        shown.answered(t + 1, CHOICES[t])
    return GenerationRequest(history, turns, DEFAULT_CATEGORIES, 5, 12, 7, images=shown)


class _Column:
    def __init__(self, images):
        self.images = images


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _colour(image: Image.Image) -> tuple[int, ...]:
    return image.convert("RGB").resize((1, 1)).getpixel((0, 0))


def _column_of(image: Image.Image) -> int:
    """The column whose colour the (lossy) image shows."""
    colour = _colour(image)
    return min(range(len(COLOURS)), key=lambda c: sum(abs(a - b) for a, b in zip(colour, COLOURS[c])))


# ------------------------------------------------ each provider's image parts, decoded


def _openai_parts(request, **options):
    with StubServer() as server:
        get_plugins().create("generator", "openai", base_url=server.url, model="vl", **options).generate(request)
    content = server.bodies[0]["messages"][1]["content"]
    if isinstance(content, str):
        return content, []
    urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    assert all(u.startswith("data:image/jpeg;base64,") for u in urls)
    captions = [p["text"] for p in content[1:] if p["type"] == "text"]
    return content[0]["text"], list(zip(captions, ["image/jpeg"] * len(urls), [base64.b64decode(u.split(",", 1)[1]) for u in urls]))


def _anthropic_parts(request, **options):
    def good(body):
        return 200, anthropic_body(answer_for(body["tools"][0]["input_schema"]))

    provider = Provider(good)
    get_plugins().create("generator", "anthropic", http_client=provider.client(), **options).generate(request)
    content = provider.bodies[0]["messages"][0]["content"]
    if isinstance(content, str):
        return content, []
    images = [b["source"] for b in content if b["type"] == "image"]
    assert all(s["type"] == "base64" for s in images)
    captions = [b["text"] for b in content[1:] if b["type"] == "text"]
    return content[0]["text"], list(zip(captions, [s["media_type"] for s in images], [base64.b64decode(s["data"]) for s in images]))


def _gemini_parts(request, **options):
    def good(body):
        return 200, gemini_body(answer_for(body["generationConfig"]["responseJsonSchema"]))

    provider = Provider(good)
    get_plugins().create("generator", "gemini", http_client=provider.client(), **options).generate(request)
    parts = provider.bodies[0]["contents"][0]["parts"]
    images = [p["inlineData"] for p in parts if "inlineData" in p]
    captions = [p["text"] for p in parts[1:] if "text" in p]
    mimes = [i.get("mimeType", i.get("mime_type")) for i in images]  # the SDK writes either spelling
    return parts[0]["text"], list(zip(captions, mimes, [base64.urlsafe_b64decode(i["data"]) for i in images]))


PROVIDERS = {"openai": _openai_parts, "anthropic": _anthropic_parts, "gemini": _gemini_parts}


@pytest.fixture(autouse=True)
def _keys(keys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_by_default_the_chosen_images_are_sent(provider):
    """The paper's setting: each earlier turn's chosen column, M images, in turn order."""
    text, parts = PROVIDERS[provider](_request(turns=4))
    assert len(parts) == 3 * 4
    assert {mime for _, mime, _ in parts} == {"image/jpeg"}
    assert [_column_of(_decoded(data)) for _, _, data in parts] == [c for c in CHOICES[:3] for _ in range(4)]
    assert parts[0][0] == "Turn 1, column 3 (chosen), image 1 of 4:"
    assert all(max(_decoded(data).size) == 512 for _, _, data in parts)  # the default cap
    assert "The images the person was shown follow this text" in text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_all_images_with_a_size_cap(provider):
    _, parts = PROVIDERS[provider](_request(turns=3), images="all", image_max_side="200")
    assert len(parts) == 2 * 4 * 4
    assert all(_decoded(data).size == (200, 150) for _, _, data in parts)
    columns = [_column_of(_decoded(data)) for _, _, data in parts]
    assert columns == [c for _ in range(2) for c in range(4) for _ in range(4)]
    states = [caption.split("(")[1].split(")")[0] for caption, _, _ in parts]
    assert states.count("chosen") == 2 * 4 and states.count("passed over") == 2 * 3 * 4


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_images_sends_the_text_only(provider):
    text, parts = PROVIDERS[provider](_request(turns=3), images="none")
    assert parts == [] and "images the person was shown" not in text


def test_small_images_are_not_enlarged():
    _, parts = _openai_parts(_request(turns=2, size=(96, 64)))
    assert [_decoded(data).size for _, _, data in parts] == [(96, 64)] * 4


def test_the_first_turn_has_no_images():
    text, parts = _openai_parts(_request(turns=1))
    assert parts == [] and "images the person was shown" not in text


def test_the_prompt_names_the_columns_passed_over():
    request = _request(turns=2)
    text, _ = _openai_parts(request)
    turn = request.history.turns[0]
    passed = [c.text for i, c in enumerate(turn.slate) if i != turn.choice]
    assert "Turn 1: the person passed over " + ", ".join(f'"{t}"' for t in passed) in text


def test_an_llm_generator_tells_the_engine_which_images_it_reads():
    with StubServer() as server:
        plugins = get_plugins()
        made = [plugins.create("generator", "openai", base_url=server.url, model="m", images=mode,
                               retry=RetryPolicy()) for mode in ("none", "chosen", "all")]
    assert [g.history_images for g in made] == ["none", "chosen", "all"]


def test_each_earlier_image_is_encoded_once(monkeypatch):
    """Turn after turn the same earlier images are sent; each is scaled and encoded once."""
    import pasta_llm.images as images

    calls = []
    real = images.encode_image
    monkeypatch.setattr(images, "encode_image", lambda image, side: calls.append(image) or real(image, side))
    encode = images.EncodedImages(64)
    request = _request(turns=3)
    first = images.history_image_parts(request, images.ImageOptions("all", 64), encode)
    again = images.history_image_parts(request, images.ImageOptions("all", 64), encode)
    assert first == again and len(first) == 32
    assert len(calls) == len({id(i) for i in calls}) == 4 * 2  # the 4 column pictures of each of 2 turns


@pytest.mark.parametrize("mode, cap, turns_sent", [
    ("chosen", 12, [2, 3, 4]),  # 3 earlier turns of 4 images fit in 12
    ("chosen", 11, [3, 4]),  # whole turns only, the latest first
    ("all", 16, [4]),
    ("all", 15, []),  # not even the last turn fits
])
def test_at_most_max_images_whole_turns_the_latest_first(mode, cap, turns_sent):
    _, parts = _openai_parts(_request(turns=5, keep=mode), images=mode, max_images=str(cap))
    sent = sorted({int(caption.split(",")[0].split()[1]) for caption, _, _ in parts})
    per_turn = 4 if mode == "chosen" else 16
    assert sent == turns_sent and len(parts) == per_turn * len(turns_sent)


def test_max_images_must_be_positive():
    from pasta_core.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="option max_images must be a positive integer"):
        get_plugins().create("generator", "anthropic", max_images="0")


def test_a_server_that_refuses_images_says_to_turn_them_off():
    """A text-only model answers 400 to image parts; after trying plain JSON once the
    error says what to set."""
    from openai_stub import error

    from pasta_core.errors import BackendError

    with StubServer((400, error("this model does not take image input"))) as server:
        generator = get_plugins().create("generator", "openai", base_url=server.url, model="text-only")
        with pytest.raises(BackendError, match=r"400: this model does not take image input\); if the model takes no "
                                               r"images, set --generator-option images=none"):
            generator.generate(_request(turns=2))
    assert [("response_format" in b) for b in server.bodies] == [True, False]

"""Chinese prompts: glossary, translators (hosted through the stand-in, local on a tiny
MarianMT model trained here in about a second), and the choice between them.

Nothing downloads: the hosted translator talks to tests/standin_hf.py on 127.0.0.1, and the
local one loads a MarianMT model built from scratch in a temp folder (a character-level
sentencepiece model trained on a few phrases and a 32-wide Marian model trained to memorise
them), also laid out as a Hugging Face cache entry to test loading by Hub id.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from huatu.config import Settings
from huatu.errors import HostedAuthError, HostedError, HuatuError, ModelNotServedError, explain
from huatu.messages import Notice, render
from huatu.translation import (
    CHINESE_NATIVE_MODELS,
    DEFAULT_GLOSSARY,
    DEFAULT_TRANSLATION_MODEL,
    NO_TRANSLATOR_REASON,
    RETRY_WAIT_CAP_S,
    GlossaryError,
    HostedTranslationAuthError,
    HostedTranslationError,
    HostedTranslator,
    LocalTranslator,
    PromptTranslation,
    TranslationError,
    TranslationModelNotServedError,
    TranslationUnavailableError,
    Translator,
    apply_glossary,
    choose_translator,
    format_glossary_text,
    load_glossary,
    model_reads_chinese,
    parse_glossary_text,
    save_glossary,
    split_for_translation,
    tidy_english,
    translate_prompt,
)
from tests.helpers import free_port
from tests.standin_catalogue import TODAY, HubModel
from tests.standin_catalogue import Mapping as HubMapping
from tests.standin_hf import (
    StandInHF,
    forbidden,
    garbage,
    gone,
    hang,
    html_page,
    http_error,
    json_without_image,
    loading,
    not_found,
    rate_limited,
    reply,
    reset_mid_body,
    standin_translate,
    translation,
    unauthorized,
)

KEY = "hf_test_SECRET_translate_42"
ROUTE = f"/hf-inference/models/{DEFAULT_TRANSLATION_MODEL}"


class Recording:
    """A translator that records what it was asked and answers from a table."""

    name = "recording"

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self.table = table or {}
        self.asked: list[str] = []

    def translate(self, text: str) -> str:
        self.asked.append(text)
        return self.table.get(text, f"<{text}>")


class Refusing:
    """A translator that must not be called."""

    name = "refusing"

    def translate(self, text: str) -> str:
        raise AssertionError(f"the translator was called with {text!r}")


def assert_no_key(error: BaseException) -> None:
    """The key is in neither the message (English or Chinese), the repr, the parameters, nor
    any chained exception."""
    seen: BaseException | None = error
    while seen is not None:
        assert KEY not in str(seen)
        assert KEY not in repr(seen)
        if isinstance(seen, HuatuError):
            assert KEY not in seen.render("zh-CN")
            assert KEY not in repr(seen.params)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)


def one_sentence(text: str) -> bool:
    return text.endswith(".") and ". " not in text.rstrip(".") and "\n" not in text


# --------------------------------------------------------------------------------------------
# Glossary: text form
# --------------------------------------------------------------------------------------------


def test_glossary_text_round_trip_keeps_order() -> None:
    text = format_glossary_text(DEFAULT_GLOSSARY)
    assert text.splitlines()[0] == "赛博朋克 = cyberpunk"
    assert parse_glossary_text(text) == DEFAULT_GLOSSARY
    assert list(parse_glossary_text(text)) == list(DEFAULT_GLOSSARY)
    assert format_glossary_text({}) == ""
    assert parse_glossary_text("") == {}


def test_glossary_text_ignores_blanks_and_comments_and_reads_fullwidth_equals() -> None:
    text = (
        "# my terms\n"
        "\n"
        "  赛博朋克 =   cyberpunk  \n"
        "汉服＝hanfu\n"
        "   # indented comment\n"
        "公式 = a = b\n"
        "赛博朋克 = cyberpunk\n"  # the same again is fine
    )
    assert parse_glossary_text(text) == {"赛博朋克": "cyberpunk", "汉服": "hanfu", "公式": "a = b"}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("赛博朋克 = cyberpunk\n汉服 hanfu\n", 2, "not of the form"),
        ("# c\n\n = cyberpunk\n", 3, "empty"),
        ("汉服 =\n", 1, "empty"),
        ("油画 = oil painting\n汉服 = hanfu\n油画 = oil on canvas\n", 3, "line 1"),
        ("ok = fine\n" + "长" * 201 + " = long\n", 2, "at most 200"),
    ],
)
def test_glossary_text_bad_line_is_named(text: str, line: int, words: str) -> None:
    with pytest.raises(GlossaryError) as caught:
        parse_glossary_text(text)
    assert isinstance(caught.value, (HuatuError, ValueError))
    assert caught.value.line == line
    assert f"line {line}" in str(caught.value)
    assert words in str(caught.value)


# --------------------------------------------------------------------------------------------
# Glossary: applying
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("赛博朋克城市", "cyberpunk城市"),
        ("赛博朋克高清", "cyberpunk high resolution"),
        ("超高清的水墨画", "ultra high resolution的ink wash painting"),  # longest first
        ("水墨山水", "ink wash山水"),
        ("高清photo of 汉服girl", "high resolution photo of hanfu girl"),
        ("a 油画, 杰作", "a oil painting, masterpiece"),
        ("no terms here", "no terms here"),
        ("", ""),
    ],
)
def test_apply_glossary(text: str, expected: str) -> None:
    assert apply_glossary(text, DEFAULT_GLOSSARY) == expected


def test_apply_glossary_prefers_longest_whatever_the_order() -> None:
    glossary = {"城": "castle", "城市": "city", "城市夜景": "city night view"}
    assert apply_glossary("城市夜景与城市与城", glossary) == "city night view与city与castle"
    assert apply_glossary("城市", {}) == "城市"


# --------------------------------------------------------------------------------------------
# Glossary: files
# --------------------------------------------------------------------------------------------


def test_missing_glossary_file_gives_a_copy_of_the_defaults(tmp_path: Path) -> None:
    glossary = load_glossary(tmp_path / "nope.json")
    assert glossary == DEFAULT_GLOSSARY
    glossary["新"] = "new"
    assert "新" not in DEFAULT_GLOSSARY


def test_save_then_load_round_trip_is_readable_json(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "glossary.json"
    save_glossary(path, {" 赛博朋克 ": " cyberpunk ", "汉服": "hanfu"})
    assert load_glossary(path) == {"赛博朋克": "cyberpunk", "汉服": "hanfu"}
    assert "赛博朋克" in path.read_text(encoding="utf-8")  # Chinese kept readable
    save_glossary(path, {})
    assert load_glossary(path) == {}  # an empty glossary stays empty
    assert [p.name for p in path.parent.iterdir()] == ["glossary.json"]


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "glossary.json"
    save_glossary(path, {"油画": "oil painting"})
    before = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(GlossaryError) as caught:
        save_glossary(path, {"油画": "oil on canvas", "汉服": "hanfu"})
    assert str(path) in str(caught.value)
    assert "No space left on device" in str(caught.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["glossary.json"]  # no temp file left


def test_save_refuses_bad_terms(tmp_path: Path) -> None:
    with pytest.raises(GlossaryError, match="empty"):
        save_glossary(tmp_path / "g.json", {"汉服": " "})
    with pytest.raises(GlossaryError, match="'='"):
        save_glossary(tmp_path / "g.json", {"a=b": "c"})
    assert not (tmp_path / "g.json").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"\xe6\xb1\x89\xe6\x9c\x8d": "hanfu",', "not valid JSON"),
        (b'["hanfu"]', "JSON object"),
        (b'{"\xe6\xb1\x89\xe6\x9c\x8d": 3}', "bad entry"),
        (b'{"": "x"}', "bad entry"),
        (b"\xff\xfe{}", "could not be read"),
    ],
)
def test_broken_glossary_file_is_named(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "glossary.json"
    path.write_bytes(content)
    with pytest.raises(GlossaryError) as caught:
        load_glossary(path)
    assert str(path) in str(caught.value)
    assert words in str(caught.value)
    assert caught.value.path == path


def test_glossary_path_that_is_a_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(GlossaryError, match="could not be read") as caught:
        load_glossary(tmp_path)
    assert str(tmp_path) in str(caught.value)


# --------------------------------------------------------------------------------------------
# Splitting and tidying
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("一只狗在公园里", [("一只狗在公园里", True)]),
        ("cyberpunk城市，夜晚, 8k", [("cyberpunk", False), ("城市，夜晚", True), (", 8k", False)]),
        ("masterpiece, 3只猫!", [("masterpiece, ", False), ("3只猫", True), ("!", False)]),
        ("(一只猫:1.2)", [("(", False), ("一只猫", True), (":1.2)", False)]),
        ("一只 semi-realistic 猫", [("一只", True), (" semi-realistic ", False), ("猫", True)]),
        ("just english", [("just english", False)]),
    ],
)
def test_split_for_translation(text: str, pieces: list[tuple[str, bool]]) -> None:
    assert split_for_translation(text) == pieces
    assert "".join(piece for piece, _ in pieces) == text


def test_tidy_english() -> None:
    assert tidy_english("cyberpunk，high resolution。") == "cyberpunk, high resolution."
    assert tidy_english(" a  dog （cute） , neon ") == "a dog (cute), neon"


# --------------------------------------------------------------------------------------------
# translate_prompt with a fake translator
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["a dog in a park", "café, 4k, naïve art", "🐶 + 🌳", ""])
def test_latin_only_prompt_is_untouched(text: str) -> None:
    result = translate_prompt(text, glossary=DEFAULT_GLOSSARY, translator=Refusing())
    assert result == PromptTranslation(text, text, text, "", False)


def test_glossary_alone_needs_no_translator() -> None:
    result = translate_prompt("赛博朋克，高清，杰作", glossary=DEFAULT_GLOSSARY, translator=None)
    assert result.needed
    assert result.translator == "glossary"
    assert result.original == "赛博朋克，高清，杰作"
    assert result.after_glossary == "cyberpunk，high resolution，masterpiece"
    assert result.translated == "cyberpunk, high resolution, masterpiece"


def test_only_foreign_runs_are_sent_each_once() -> None:
    translator = Recording({"城市": "City.", "一只猫": "A cat."})
    result = translate_prompt(
        "赛博朋克城市, neon 城市, 杰作, 一只猫", glossary=DEFAULT_GLOSSARY, translator=translator
    )
    assert translator.asked == ["城市", "一只猫"]
    assert result.translated == "cyberpunk city, neon city, masterpiece, a cat"
    assert result.translator == "recording"
    assert result.after_glossary == "cyberpunk城市, neon 城市, masterpiece, 一只猫"


def test_a_phrase_between_english_words_is_sent_whole() -> None:
    translator = Recording({"城市, 夜晚": "City, at night."})
    result = translate_prompt("城市, 夜晚, 8k", glossary={}, translator=translator)
    assert translator.asked == ["城市, 夜晚"]
    assert result.translated == "city, at night, 8k"


def test_no_translator_says_why_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(TranslationUnavailableError) as caught:
        translate_prompt("一只狗", glossary=DEFAULT_GLOSSARY, translator=None)
    assert "HF_API_KEY" in str(caught.value)
    assert one_sentence(str(caught.value))
    assert caught.value.notice == NO_TRANSLATOR_REASON  # the sentence is the reason, by key
    assert caught.value.render("zh-CN") == render(NO_TRANSLATOR_REASON, "zh-CN")
    # the reason choose_translator gave is the error's sentence, word for word
    _, reason = choose_translator(Settings(), model="tiny", cache_dir=tmp_path)
    with pytest.raises(TranslationUnavailableError) as caught:
        translate_prompt("一只狗", glossary={}, translator=None, reason=reason)
    assert caught.value.notice == reason
    assert str(caught.value) == render(reason) and "hf download" in str(caught.value)


def test_empty_translation_is_an_error() -> None:
    with pytest.raises(TranslationError, match="returned nothing"):
        translate_prompt("一只狗", glossary={}, translator=Recording({"一只狗": " . "}))


def test_translators_satisfy_the_protocol() -> None:
    assert isinstance(HostedTranslator(Settings(hf_api_key=KEY)), Translator)
    assert isinstance(LocalTranslator("nowhere"), Translator)
    assert isinstance(Recording(), Translator)


# --------------------------------------------------------------------------------------------
# The hosted translator through the stand-in
# --------------------------------------------------------------------------------------------


#: A Hub where a provider serves the zh→en translation model (today none does: see the
#: chat-completion tests below, which use the stand-in's catalogue of today).
OPUS_SERVED = (
    *(model for model in TODAY if model.id != DEFAULT_TRANSLATION_MODEL),
    HubModel(
        DEFAULT_TRANSLATION_MODEL,
        "translation",
        500,
        (HubMapping("hf-inference", DEFAULT_TRANSLATION_MODEL, "translation"),),
    ),
)


@pytest.fixture
def stand_in(hub_reaches_stand_in: None) -> Iterator[StandInHF]:
    with StandInHF(expected_key=KEY, catalogue=OPUS_SERVED) as server:
        yield server


def hosted(stand_in: StandInHF, **options: float) -> HostedTranslator:
    settings = Settings(
        hf_api_key=KEY, hf_router=stand_in.url, hf_endpoint=stand_in.url, hosted_timeout_s=5.0
    )
    options.setdefault("max_retry_wait_s", 0.2)
    return HostedTranslator(settings, **options)  # type: ignore[arg-type]


def test_stand_in_phrase_table() -> None:
    assert standin_translate("一只狗在公园里") == "A dog in a park."
    assert standin_translate("城市，夜晚") == "City, at night."
    assert standin_translate("赛博朋克") == "赛博朋克."  # unknown text passes through


def test_hosted_translation_request_and_answer(stand_in: StandInHF) -> None:
    translator = hosted(stand_in)
    assert translator.name == f"hosted · {DEFAULT_TRANSLATION_MODEL}"
    assert translator.translate("一只狗在公园里") == "A dog in a park."
    (sent,) = stand_in.requests
    assert sent.method == "POST"
    assert sent.path == ROUTE
    assert sent.bearer == KEY
    assert sent.json == {"inputs": "一只狗在公园里", "parameters": {}}


def test_glossary_only_prompt_sends_nothing(stand_in: StandInHF) -> None:
    result = translate_prompt(
        "赛博朋克, 杰作", glossary=DEFAULT_GLOSSARY, translator=hosted(stand_in)
    )
    assert result.translated == "cyberpunk, masterpiece"
    assert result.translator == "glossary"
    assert stand_in.requests == []


def test_glossary_then_hosted_translator(stand_in: StandInHF) -> None:
    prompt = "一只狗在公园里，赛博朋克，夜晚，高清"
    result = translate_prompt(prompt, glossary=DEFAULT_GLOSSARY, translator=hosted(stand_in))
    assert [r.inputs for r in stand_in.requests] == ["一只狗在公园里", "夜晚"]
    assert result == PromptTranslation(
        original=prompt,
        after_glossary="一只狗在公园里，cyberpunk，夜晚，high resolution",
        translated="a dog in a park, cyberpunk, at night, high resolution",
        translator=f"hosted · {DEFAULT_TRANSLATION_MODEL}",
        needed=True,
    )


def test_glossary_terms_survive_translation_inside_a_phrase(stand_in: StandInHF) -> None:
    result = translate_prompt(
        "赛博朋克城市里的一只狗", glossary=DEFAULT_GLOSSARY, translator=hosted(stand_in)
    )
    assert [r.inputs for r in stand_in.requests] == ["城市里的一只狗"]
    assert result.translated == "cyberpunk a dog in the city"
    assert "赛博朋克" not in str(stand_in.requests[0].body)


def test_hosted_503_then_success(stand_in: StandInHF) -> None:
    stand_in.enqueue(loading(estimated_time=0.05))
    assert hosted(stand_in).translate("一只猫") == "A cat."
    assert len(stand_in.requests) == 2


def test_hosted_429_retry_honours_retry_after_up_to_the_cap(stand_in: StandInHF) -> None:
    stand_in.enqueue(rate_limited(retry_after="0.1"))
    assert hosted(stand_in).translate("日落") == "Sunset."
    first, second = stand_in.requests
    assert 0.1 <= second.at - first.at < RETRY_WAIT_CAP_S  # the wait asked for, not the cap


def failure_cases() -> list[tuple[str, list, type[Exception], str, int]]:
    """(id, behaviours, error type, words in the message, requests made)."""
    return [
        ("401", [unauthorized()], HostedTranslationAuthError, "rejected the API key (401)", 1),
        ("403", [forbidden()], HostedTranslationAuthError, "(403)", 1),
        ("404", [not_found()], TranslationModelNotServedError, "not served", 1),
        ("410", [gone()], TranslationModelNotServedError, "(410)", 1),
        ("503x2", [loading(0.05), loading(0.05)], HostedTranslationError, "still loading", 2),
        ("429x2", [rate_limited("0"), rate_limited("0")], HostedTranslationError, "(429)", 2),
        ("500", [http_error(500, "boom")], HostedTranslationError, "HTTP 500 (boom)", 1),
        ("garbage", [garbage()], HostedTranslationError, "not a translation", 1),
        ("no-text", [json_without_image()], HostedTranslationError, "not a translation", 1),
        ("html", [html_page()], HostedTranslationError, "not a translation", 1),
        ("wrong-type", [reply(200, [{"translation_text": 5}])], HostedTranslationError, "not", 1),
        ("empty-list", [reply(200, [])], HostedTranslationError, "not a translation", 1),
        ("empty-text", [translation("  ")], HostedTranslationError, "not a translation", 1),
        ("reset", [reset_mid_body()], HostedTranslationError, "failed mid-answer", 1),
        ("hang", [hang(10)], HostedTranslationError, "no answer within 0.5 s", 1),
    ]


@pytest.mark.parametrize(
    ("behaviours", "error_type", "words", "count"),
    [case[1:] for case in failure_cases()],
    ids=[case[0] for case in failure_cases()],
)
def test_hosted_failures_are_one_sentence_without_the_key(
    stand_in: StandInHF, behaviours: list, error_type: type[Exception], words: str, count: int
) -> None:
    stand_in.enqueue(*behaviours)
    with pytest.raises(error_type) as caught:
        hosted(stand_in, timeout_s=0.5).translate("一只狗")
    error = caught.value
    assert isinstance(error, HostedError) and isinstance(error, TranslationError)
    assert words in str(error)
    assert one_sentence(str(error)), str(error)
    assert_no_key(error)
    assert len(stand_in.requests) == count


def test_hosted_error_classes_fit_the_existing_hierarchy() -> None:
    assert issubclass(HostedTranslationAuthError, HostedAuthError)
    assert issubclass(TranslationModelNotServedError, ModelNotServedError)
    assert issubclass(HostedTranslationError, HostedError)


def test_key_echoed_by_the_server_is_redacted(stand_in: StandInHF) -> None:
    stand_in.enqueue(http_error(500, f"token {KEY} is odd"))
    with pytest.raises(HostedTranslationError) as caught:
        hosted(stand_in).translate("一只狗")
    assert "token *** is odd" in str(caught.value)
    assert_no_key(caught.value)


def test_unreachable_service(hub_reaches_stand_in: None) -> None:
    settings = Settings(
        hf_api_key=KEY,
        hf_router=(nowhere := f"http://127.0.0.1:{free_port()}"),
        hf_endpoint=nowhere,
    )
    with pytest.raises(HostedTranslationError, match="Could not reach") as caught:
        HostedTranslator(settings, timeout_s=2).translate("一只狗")
    assert one_sentence(str(caught.value))
    assert_no_key(caught.value)


def test_hosted_without_key_sends_nothing(stand_in: StandInHF) -> None:
    settings = Settings(hf_router=stand_in.url, hf_endpoint=stand_in.url)
    with pytest.raises(HostedTranslationAuthError, match="HF_API_KEY"):
        HostedTranslator(settings).translate("一只狗")
    assert stand_in.requests == []


def test_hub_offline_mode_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    settings = Settings(
        hf_api_key=KEY,
        hf_router=(nowhere := f"http://127.0.0.1:{free_port()}"),
        hf_endpoint=nowhere,
    )
    with pytest.raises(HostedTranslationError, match="HF_HUB_OFFLINE"):
        HostedTranslator(settings).translate("一只狗")


# --------------------------------------------------------------------------------------------
# Choosing a translator
# --------------------------------------------------------------------------------------------


def test_key_chooses_the_hosted_translator(hub_reaches_stand_in: None) -> None:
    settings = Settings(hf_api_key=KEY)
    translator, reason = choose_translator(settings, model="tiny")
    assert isinstance(translator, HostedTranslator)
    assert translator.model == DEFAULT_TRANSLATION_MODEL
    said = render(reason)
    assert "key" in said and one_sentence(said)
    assert KEY not in repr(translator) and KEY not in said


def test_no_key_and_no_local_model_says_what_to_do(tmp_path: Path) -> None:
    translator, reason = choose_translator(Settings(), model="tiny", cache_dir=tmp_path)
    assert translator is None
    said = render(reason)
    assert "HF_API_KEY" in said
    assert f"hf download {DEFAULT_TRANSLATION_MODEL}" in said
    assert one_sentence(said)
    assert render(reason, "zh-CN") == (
        f"请设置 HF_API_KEY 以通过 Hugging Face 翻译，或下载 {DEFAULT_TRANSLATION_MODEL}"
        f"（hf download {DEFAULT_TRANSLATION_MODEL}）以便在本地翻译。"
    )


def test_key_but_hub_offline_is_not_hosted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    translator, reason = choose_translator(
        Settings(hf_api_key=KEY), model="tiny", cache_dir=tmp_path
    )
    assert translator is None
    assert "HF_HUB_OFFLINE" in render(reason) and one_sentence(render(reason))


def test_missing_sentencepiece_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "sentencepiece" else real(name, *args),
    )
    assert not LocalTranslator.available(DEFAULT_TRANSLATION_MODEL, cache_dir=tmp_path)
    _, reason = choose_translator(Settings(), model="tiny", cache_dir=tmp_path)
    said = render(reason)
    assert "pip install sentencepiece" in said
    assert "install sentencepiece (pip install sentencepiece) and download" in said
    assert "安装 sentencepiece（pip install sentencepiece），并下载" in render(reason, "zh-CN")


@pytest.mark.parametrize("model", CHINESE_NATIVE_MODELS)
def test_chinese_reading_models_skip_translation(model: str) -> None:
    assert model_reads_chinese(model)
    assert model_reads_chinese(model.upper())
    assert model_reads_chinese(f"/models/{model.split('/')[1]}/")
    translator, reason = choose_translator(Settings(hf_api_key=KEY), model=model)
    assert translator is None
    assert "reads Chinese" in render(reason)


@pytest.mark.parametrize(
    "model", ["stable-diffusion-v1-5/stable-diffusion-v1-5", "tiny", "IDEA-CCNL/Taiyi", ""]
)
def test_other_models_do_not_read_chinese(model: str) -> None:
    assert not model_reads_chinese(model)


# --------------------------------------------------------------------------------------------
# The local translator on a tiny MarianMT model built here
# --------------------------------------------------------------------------------------------

PAIRS = {
    "一只狗": "a dog",
    "在公园里": "in a park",
    "城市": "city",
    "夜晚": "at night",
    "一只猫": "a cat",
    "日落": "sunset",
    "一只狗在公园里": "a dog in a park",
}


def build_tiny_marian(folder: Path) -> Path:
    """Train sentencepiece and a 32-wide MarianMT model to memorise :data:`PAIRS` (~1 s)."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    def train_spm(sentences: list[str]) -> bytes:
        buffer = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=buffer,
            model_type="char",
            vocab_size=200,
            hard_vocab_limit=False,
            character_coverage=1.0,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            minloglevel=2,
        )
        return buffer.getvalue()

    folder.mkdir(parents=True)
    source, target = train_spm(list(PAIRS)), train_spm(list(PAIRS.values()))
    (folder / "source.spm").write_bytes(source)
    (folder / "target.spm").write_bytes(target)
    vocab = {"</s>": 0, "<unk>": 1}
    for proto in (source, target):
        processor = spm.SentencePieceProcessor(model_proto=proto)
        for index in range(processor.get_piece_size()):
            vocab.setdefault(processor.id_to_piece(index), len(vocab))
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
    )
    config = MarianConfig(
        vocab_size=len(vocab),
        decoder_vocab_size=len(vocab),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=vocab["<pad>"],
        decoder_start_token_id=vocab["<pad>"],
        eos_token_id=0,
        forced_eos_token_id=0,
        num_beams=1,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
    )
    torch.manual_seed(0)
    model = MarianMTModel(config)
    batch = tokenizer(
        list(PAIRS), text_target=list(PAIRS.values()), return_tensors="pt", padding=True
    )
    labels = batch.pop("labels")
    labels[labels == vocab["<pad>"]] = -100
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(300):
        loss = model(**batch, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sentencepiece", reason="the local translator needs sentencepiece")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MarianTokenizer: "Recommended: pip install sacremoses."
        return build_tiny_marian(tmp_path_factory.mktemp("marian") / "opus-mt-tiny")


@pytest.fixture(scope="module")
def marian_cache(tiny_marian: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Hugging Face cache holding the tiny model as ``Helsinki-NLP/opus-mt-zh-en``."""
    cache = tmp_path_factory.mktemp("hf-cache")
    repo = cache / f"models--{DEFAULT_TRANSLATION_MODEL.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_marian, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return cache


def test_local_translator_from_a_folder(tiny_marian: Path) -> None:
    assert LocalTranslator.available(tiny_marian)
    translator = LocalTranslator(tiny_marian, max_new_tokens=24)
    assert translator.name == f"local · {tiny_marian}"
    assert translator.translate("一只狗在公园里") == "a dog in a park"
    assert translator.translate("日落") == "sunset"
    assert translator.translate("  ") == "  "


def test_local_translator_from_the_hub_cache_by_id(marian_cache: Path) -> None:
    assert LocalTranslator.available(DEFAULT_TRANSLATION_MODEL, cache_dir=marian_cache)
    translator, reason = choose_translator(Settings(), model="tiny", cache_dir=marian_cache)
    assert isinstance(translator, LocalTranslator)
    assert "on this computer" in render(reason)
    again, _ = choose_translator(Settings(), model="tiny", cache_dir=marian_cache)
    assert again is translator  # loaded weights are shared between prompts
    result = translate_prompt(
        "一只狗在公园里，赛博朋克，夜晚", glossary=DEFAULT_GLOSSARY, translator=translator
    )
    assert result.translated == "a dog in a park, cyberpunk, at night"
    assert result.translator == f"local · {DEFAULT_TRANSLATION_MODEL}"
    assert result.original == "一只狗在公园里，赛博朋克，夜晚"


def test_local_translator_missing_files(tmp_path: Path, tiny_marian: Path) -> None:
    assert not LocalTranslator.available(tmp_path)
    assert not LocalTranslator.available(DEFAULT_TRANSLATION_MODEL, cache_dir=tmp_path)
    assert not LocalTranslator.available("https://example.com/model")
    with pytest.raises(TranslationError, match="cannot be loaded: put config.json"):
        LocalTranslator(tmp_path).translate("一只狗")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_marian, broken)
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    assert LocalTranslator.available(broken)  # the files are there ...
    with pytest.raises(TranslationError, match="could not be loaded") as caught:
        LocalTranslator(broken).load()  # ... but do not load
    assert one_sentence(str(caught.value))


# --------------------------------------------------------------------------------------------
# Sentences in Chinese
# --------------------------------------------------------------------------------------------


def test_hosted_translation_errors_read_in_chinese(stand_in: StandInHF) -> None:
    stand_in.enqueue(unauthorized())
    with pytest.raises(HostedTranslationAuthError) as caught:
        hosted(stand_in).translate("一只狗")
    assert caught.value.render("zh-CN") == (
        "翻译提示时 Hugging Face 拒绝了 API 密钥（401）；请检查 HF_API_KEY，或直接用英文写提示。"
    )
    stand_in.enqueue(http_error(500, f"token {KEY} is odd."))
    with pytest.raises(HostedTranslationError) as caught:
        hosted(stand_in).translate("一只狗")
    assert str(caught.value) == (
        "The translation service answered HTTP 500 (token *** is odd); try again, "
        "or write the prompt in English."
    )
    assert explain(caught.value, "zh-CN", hosted(stand_in).settings) == (
        "翻译服务返回了 HTTP 500（token *** is odd）；请重试，或直接用英文写提示。"
    )


def test_glossary_errors_read_in_chinese(tmp_path: Path) -> None:
    with pytest.raises(GlossaryError) as caught:
        parse_glossary_text("油画 = oil painting\n油画 = oil on canvas\n")
    assert caught.value.render("zh-CN") == (
        "术语表第 2 行：'油画' 在第 1 行已经对应 'oil painting'。"
    )
    with pytest.raises(GlossaryError) as caught:
        save_glossary(tmp_path / "g.json", {"汉服": " "})
    assert (
        str(caught.value) == "The glossary has a bad entry '汉服': the English for '汉服' is empty."
    )
    assert (
        caught.value.render("zh-CN") == "术语表中有一条无效的术语 '汉服'：'汉服' 对应的英文是空的。"
    )
    assert Notice("glossary_where_text") in caught.value.params.values()

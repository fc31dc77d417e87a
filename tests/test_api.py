"""REST endpoints through Flask's test client: shapes, options and every bad input."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient

from asr_service.app import create_app
from asr_service.config import Settings
from asr_service.engine import engine_from_models
from asr_service.handoff import SharedData
from asr_service.model_loading import ModelSet
from asr_service.service import AsrService

from .fakes import ExplodingRecognizer, FixedDetector, NoSpeechStream, PlainPunctuator, SilentStream
from .speech_fixtures import silent_flac
from .test_subtitles import _parsed


@pytest.fixture
def client(settings: Settings, service: AsrService) -> Iterator[FlaskClient]:
    app, _ = create_app(settings, service)
    with app.test_client() as c:
        yield c


def _upload(client: FlaskClient, data: bytes, name: str = "speech.wav", **fields: str) -> Any:
    form: dict[str, Any] = {"file": (io.BytesIO(data), name), **fields}
    return client.post("/api/asr/transcribe", data=form, content_type="multipart/form-data")


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["success"] is False and body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_health_is_ok_when_models_are_loaded(client: FlaskClient) -> None:
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok" and body["models_loaded"] is True and body["success"] is True


def test_transcribe_returns_text_and_sentence_timestamps(client: FlaskClient, speech_wav: Path) -> None:
    response = _upload(client, speech_wav.read_bytes())
    assert response.status_code == 200
    body = response.get_json()
    data = body["data"]
    assert body["success"] is True and body["filename"] == "speech.wav" and body["mode"] == "offline"
    assert data["filename"] == "speech.wav" and data["mode"] == "offline"
    assert data["model"] == "SenseVoiceSmall"
    assert data["length"] == len(data["text"]) > 0
    assert 17000 < data["duration_ms"] < 30000
    assert len(data["timestamps"]) >= 2
    end = 0
    for sentence in data["timestamps"]:
        assert set(sentence) == {"text", "start_ms", "end_ms", "language", "emotion", "events"}
        assert end <= sentence["start_ms"] < sentence["end_ms"] <= data["duration_ms"]
        end = sentence["end_ms"]


def test_timestamps_can_be_left_out(client: FlaskClient, speech_wav: Path) -> None:
    data = _upload(client, speech_wav.read_bytes(), generate_timestamps="false").get_json()["data"]
    assert "timestamps" not in data and data["text"]


def test_language_and_itn_options_reach_the_model(client: FlaskClient, speech_wav: Path) -> None:
    auto = _upload(client, speech_wav.read_bytes()).get_json()["data"]
    english = _upload(client, speech_wav.read_bytes(), language="en", use_itn="0").get_json()["data"]
    assert (english["language_requested"], auto["language_requested"]) == ("en", "auto")
    assert english["language"] == "en"  # the hint becomes the language tag SenseVoice emits
    assert auto["text"] != english["text"]  # the tiny model's output depends on both prompts


def _check_words(data: dict[str, Any]) -> None:
    """Every sentence has words, inside it and in order, that spell its text."""
    assert len(data["timestamps"]) >= 2
    for sentence in data["timestamps"]:
        assert set(sentence) == {"text", "start_ms", "end_ms", "language", "emotion", "events", "words"}
        assert sentence["words"], sentence
        previous = sentence["start_ms"]
        for word in sentence["words"]:
            assert set(word) == {"text", "start_ms", "end_ms"} and word["text"].strip() == word["text"] != ""
            assert previous <= word["start_ms"] <= word["end_ms"] <= sentence["end_ms"], (sentence, word)
            previous = word["end_ms"]
        assert "".join(w["text"] for w in sentence["words"]) == sentence["text"].replace(" ", "")


def test_word_timestamps_give_each_sentence_its_timed_words(client: FlaskClient, speech_wav: Path) -> None:
    asked = _upload(client, speech_wav.read_bytes(), word_timestamps="true", generate_timestamps="false")
    data = asked.get_json()["data"]
    _check_words(data)  # word times imply the sentences
    languages = {s["language"] for s in data["timestamps"]}
    assert data["language"] in languages and data["language_requested"] == "auto"
    assert all(s["emotion"] is None or s["emotion"].islower() for s in data["timestamps"])
    plain = _upload(client, speech_wav.read_bytes()).get_json()["data"]
    assert [s["text"] for s in plain["timestamps"]] == [s["text"] for s in data["timestamps"]]
    by_query = client.post(
        "/api/asr/transcribe?word_timestamps=1",
        data={"file": (io.BytesIO(speech_wav.read_bytes()), "speech.wav")},
        content_type="multipart/form-data",
    )
    assert by_query.get_json()["data"] == data
    _assert_error(_upload(client, speech_wav.read_bytes(), word_timestamps="maybe"), 400, "bad_request")


def test_silence_is_empty_text_not_an_error(client: FlaskClient, tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000 * 4, dtype=np.float32), 16000)
    data = _upload(client, path.read_bytes(), "silence.wav").get_json()["data"]
    assert data["text"] == "" and data["timestamps"] == [] and data["length"] == 0
    assert data["duration_ms"] == 4000
    assert (data["language"], data["language_requested"]) == (None, "auto")  # no sentence names one


def test_models_and_formats_describe_the_service(client: FlaskClient) -> None:
    models = client.get("/api/asr/models").get_json()["data"]
    assert models["device"] == "cpu"
    assert {m["role"] for m in models["models"]} == {"vad", "offline", "streaming", "punc", "speaker"}
    formats = client.get("/api/asr/formats").get_json()["data"]
    assert set(formats["formats"]) == {"wav", "mp3", "ogg", "flac", "m4a", "aac", "wma", "webm"}
    assert formats["max_upload_mb"] == 5


def test_models_without_a_speaker_model_do_not_list_one(
    settings: Settings, model_set: ModelSet, stores: SharedData
) -> None:
    # what load_models gives for ASR_SPEAKER_MODEL= (tests/test_model_loading.py checks that part)
    loaded = {role: m for role, m in model_set.loaded.items() if role != "speaker"}
    without = engine_from_models(settings, ModelSet(model_set.device, model_set.threads, loaded), stores)
    try:
        assert without.speaker is None and "speaker" not in without.queue_depths()
        svc = AsrService(settings, lambda: without, stores=stores)
        svc.load()
        app, _ = create_app(settings, svc)
        with app.test_client() as c:
            assert c.get("/api/health").status_code == 200
            models = c.get("/api/asr/models").get_json()["data"]["models"]
        assert {m["role"] for m in models} == {"vad", "offline", "streaming", "punc"}
    finally:
        without.close()


def test_missing_file_field(client: FlaskClient) -> None:
    response = client.post("/api/asr/transcribe", data={"other": "x"}, content_type="multipart/form-data")
    assert "file" in _assert_error(response, 400, "bad_request")["error"]


def test_not_multipart_at_all(client: FlaskClient) -> None:
    _assert_error(client.post("/api/asr/transcribe", json={"file": "x"}), 400, "bad_request")


def test_empty_file_name(client: FlaskClient, speech_wav: Path) -> None:
    _assert_error(_upload(client, speech_wav.read_bytes(), ""), 400, "bad_request")


def test_zero_byte_file(client: FlaskClient) -> None:
    _assert_error(_upload(client, b"", "empty.wav"), 400, "empty_file")


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.wav", b"this is a text file renamed to wav\n" * 30), ("noise.mp3", bytes(range(256)) * 200)],
)
def test_undecodable_content(client: FlaskClient, name: str, content: bytes) -> None:
    body = _assert_error(_upload(client, content, name), 415, "unsupported_media")
    assert "Invalid data" in body["error"]


def test_random_bytes_named_mp3(client: FlaskClient) -> None:
    rng = np.random.default_rng(11)
    _assert_error(_upload(client, rng.bytes(40_000), "random.mp3"), 415, "unsupported_media")


def test_truncated_wav(client: FlaskClient, speech_wav: Path) -> None:
    data = speech_wav.read_bytes()
    half = _upload(client, data[: len(data) // 2])
    assert half.status_code == 200  # what decodes is transcribed, and the client is told
    assert [w["code"] for w in half.get_json()["data"]["warnings"]] == ["truncated"]
    body = _assert_error(_upload(client, data[: len(data) // 100]), 415, "unsupported_media")
    assert "truncated" in body["error"]


def test_wrong_extension_is_fine_when_content_is_audio(client: FlaskClient, speech_wav: Path) -> None:
    assert _upload(client, speech_wav.read_bytes(), "meeting.mp3").status_code == 200


def test_upload_over_the_size_limit(client: FlaskClient) -> None:
    response = _upload(client, b"\0" * (6 * 1024 * 1024), "big.wav")
    assert "5 MB" in _assert_error(response, 413, "upload_too_large")["error"]


def test_audio_over_the_duration_limit(client: FlaskClient, tmp_path: Path) -> None:
    path = tmp_path / "long.flac"
    silent_flac(path, 600)
    body = _assert_error(_upload(client, path.read_bytes(), "long.flac"), 413, "audio_too_long")
    assert "120 s" in body["error"]


@pytest.mark.parametrize(("field", "value"), [("generate_timestamps", "perhaps"), ("language", "fr")])
def test_bad_option_values(client: FlaskClient, speech_wav: Path, field: str, value: str) -> None:
    body = _assert_error(_upload(client, speech_wav.read_bytes(), **{field: value}), 400, "bad_request")
    assert field in body["error"]


def test_unknown_route_and_wrong_method_use_the_error_shape(client: FlaskClient) -> None:
    _assert_error(client.get("/api/nothing-here"), 404, "not_found")
    _assert_error(client.get("/api/asr/transcribe"), 405, "method_not_allowed")


def test_unexpected_failure_is_500_with_an_error_id_in_the_log(
    settings: Settings, speech_wav: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from asr_service.data_stores import open_stores
    from asr_service.engine import ModelRoles, build_engine
    from asr_service.roles import Span

    roles = ModelRoles(
        vad=FixedDetector([Span(0, 1000)]),
        offline=ExplodingRecognizer(),
        streaming_vad=NoSpeechStream(),
        streaming=SilentStream(),
        punc=PlainPunctuator(),
    )
    stores = open_stores(settings)
    broken = build_engine(settings, roles, stores, "x", "cpu", [])
    svc = AsrService(settings, lambda: broken, stores=stores)
    svc.load()
    app, _ = create_app(settings, svc)
    with caplog.at_level(logging.ERROR, logger="asr_service"), app.test_client() as c:
        body = _assert_error(_upload(c, speech_wav.read_bytes()), 500, "internal_error")
        error_id = re.search(r"error id ([0-9a-f]{12})", body["error"])
        assert error_id is not None
        assert any(error_id.group(1) in r.getMessage() for r in caplog.records)
        assert c.get("/api/asr/formats").status_code == 200  # still serving
    broken.close()


def test_not_ready_until_models_load(settings: Settings, speech_wav: Path) -> None:
    svc = AsrService(settings, lambda: (_ for _ in ()).throw(RuntimeError("no")))
    app, _ = create_app(settings, svc)
    with app.test_client() as c:
        health = c.get("/api/health")
        assert health.status_code == 503 and health.get_json()["status"] == "loading"
        _assert_error(_upload(c, speech_wav.read_bytes()), 503, "not_ready")
        _assert_error(c.get("/api/asr/models"), 503, "not_ready")
    with pytest.raises(RuntimeError):
        svc.load()
    with app.test_client() as c:
        body = c.get("/api/health").get_json()
        assert body["status"] == "failed" and "no" in body["message"]


def test_api_key_is_required_when_configured(service: AsrService, tmp_path: Path) -> None:
    secured = Settings.from_env({"ASR_API_KEY": "s3cret-key", "ASR_DATA_DIR": str(tmp_path)})
    app, _ = create_app(secured, service)
    with app.test_client() as c:
        assert c.get("/api/health").status_code == 200
        _assert_error(c.get("/api/asr/formats"), 401, "unauthorized")
        _assert_error(c.get("/api/asr/formats", headers={"X-API-Key": "wrong"}), 401, "unauthorized")
        assert c.get("/api/asr/formats", headers={"X-API-Key": "s3cret-key"}).status_code == 200
        assert c.get("/api/asr/formats", headers={"Authorization": "Bearer s3cret-key"}).status_code == 200


def test_cors_headers_only_for_allowed_origins(service: AsrService, tmp_path: Path) -> None:
    settings = Settings.from_env({"ASR_CORS_ORIGINS": "https://app.example", "ASR_DATA_DIR": str(tmp_path)})
    app, _ = create_app(settings, service)
    with app.test_client() as c:
        allowed = c.get("/api/asr/formats", headers={"Origin": "https://app.example"})
        other = c.get("/api/asr/formats", headers={"Origin": "https://evil.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Origin" not in other.headers


def test_deeply_nested_hotwords_are_a_400_not_an_internal_error(
    client: FlaskClient, speech_wav: Path
) -> None:
    for text in ("[" * 5000 + "]" * 5000, '["a", ["b"]]', "a," * 9000):
        body = _assert_error(_upload(client, speech_wav.read_bytes(), hotwords=text), 400, "bad_request")
        assert "hotwords" in body["error"]


def test_result_filename_is_a_cleaned_display_name(client: FlaskClient, speech_wav: Path) -> None:
    body = _upload(client, speech_wav.read_bytes(), "../../etc/passwd").get_json()  # more: test_filenames
    assert body["filename"] == body["data"]["filename"] == "passwd"


def test_form_errors_each_have_their_own_code(client: FlaskClient) -> None:
    many = "".join(f'--b\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n' for i in range(1100))
    response = client.post(
        "/api/asr/transcribe", data=many + "--b--\r\n", content_type="multipart/form-data; boundary=b"
    )
    _assert_error(response, 413, "too_many_parts")
    wrong = client.post(
        "/api/asr/transcribe",
        data=b"--x\r\n" + b"\0" * 600_000,
        content_type="multipart/form-data; boundary=b",
    )
    _assert_error(wrong, 400, "bad_multipart")
    none = client.post("/api/asr/transcribe", data=b"--x\r\n", content_type="multipart/form-data")
    _assert_error(none, 400, "bad_multipart")
    field = '--b\r\nContent-Disposition: form-data; name="hotwords"\r\n\r\n' + "x" * 600_000 + "\r\n--b--\r\n"
    big = client.post("/api/asr/transcribe", data=field, content_type="multipart/form-data; boundary=b")
    _assert_error(big, 413, "form_field_too_large")


def test_probes_are_open_by_default_and_closed_with_public_ops_off(
    service: AsrService, tmp_path: Path
) -> None:
    for public, status in (("true", 200), ("false", 401)):
        env = {"ASR_API_KEY": "k", "ASR_DATA_DIR": str(tmp_path), "ASR_PUBLIC_OPS": public}
        app, _ = create_app(Settings.from_env(env), service)
        with app.test_client() as c:
            assert c.get("/metrics").status_code == status and c.get("/readyz").status_code == status
            assert c.get("/").status_code == 200 and c.get("/api/health").status_code == 200
            assert c.get("/metrics", headers={"X-API-Key": "k"}).status_code == 200


def test_upload_progress_needs_the_sessions_resume_token(client: FlaskClient, speech_wav: Path) -> None:
    response = _upload(client, speech_wav.read_bytes(), session_id="a" * 32)
    _assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(
    ("output", "content_type"),
    [("srt", "application/x-subrip"), ("vtt", "text/vtt"), ("txt", "text/plain")],
)
def test_transcribe_answers_subtitles_and_text(
    client: FlaskClient, speech_wav: Path, output: str, content_type: str
) -> None:
    as_json = _upload(client, speech_wav.read_bytes(), generate_timestamps="false").get_json()["data"]
    response = _upload(client, speech_wav.read_bytes(), format=output, generate_timestamps="false")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == f"{content_type}; charset=utf-8"
    assert response.headers["Content-Disposition"] == f"attachment; filename=speech.{output}"
    body = response.get_data(as_text=True)
    assert "".join(body.split()).count(as_json["text"][:5]) >= 1  # the same words, in the file
    if output == "srt":
        assert body.startswith("1\n00:00:") and " --> " in body
    if output == "vtt":
        assert body.startswith("WEBVTT\n\n00:00:")


def test_an_unknown_format_is_a_400(client: FlaskClient, speech_wav: Path) -> None:
    body = _assert_error(_upload(client, speech_wav.read_bytes(), format="docx"), 400, "bad_request")
    assert "json, txt, srt, vtt" in body["error"]


def test_a_session_result_as_subtitles(client: FlaskClient, service: AsrService) -> None:
    session_id, token = "a" * 32, "token-of-the-recording"
    stored = {"session_id": session_id, "timestamps": [{"text": "第一句。", "start_ms": 0, "end_ms": 1500}]}
    service.results.save(session_id, token, stored)
    url = f"/api/asr/sessions/{session_id}/result"
    response = client.get(f"{url}?format=srt", headers={"X-Resume-Token": token})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1\n00:00:00,000 --> 00:00:01,500\n第一句。\n"
    assert response.headers["Content-Disposition"] == f"attachment; filename={session_id}.srt"
    assert client.get(url, headers={"X-Resume-Token": token}).get_json()["data"] == stored
    assert client.get(f"{url}?format=srt", headers={"X-Resume-Token": "other"}).status_code == 401


def test_a_stored_result_with_words_gives_subtitles_timed_by_its_words(
    client: FlaskClient, service: AsrService
) -> None:
    session_id, token = "b" * 32, "token-of-the-worded-recording"
    words = [{"text": c, "start_ms": 200 * i + 200, "end_ms": 200 * i + 400} for i, c in enumerate("第一句")]
    sentence = {
        "text": "第一句",
        "start_ms": 0,
        "end_ms": 1500,
        "language": "zh",
        "emotion": None,
        "events": [],
    }
    service.results.save(
        session_id, token, {"session_id": session_id, "timestamps": [{**sentence, "words": words}]}
    )
    response = client.get(
        f"/api/asr/sessions/{session_id}/result?format=srt", headers={"X-Resume-Token": token}
    )
    assert response.get_data(as_text=True) == "1\n00:00:00,200 --> 00:00:00,800\n第一句\n"


_ENGLISH = "Word timed English sentence that is long enough to need a second line here."
_POSTED = [
    {"text": "第一句，说得比较长一些，需要两行才能放得下的这样一句话。", "start_ms": 0, "end_ms": 5200},
    {
        "text": _ENGLISH,
        "start_ms": 5200,
        "end_ms": 9000,
        "language": "en",
        "emotion": None,
        "events": [],
        "words": [
            {"text": w, "start_ms": 5300 + 250 * i, "end_ms": 5500 + 250 * i}
            for i, w in enumerate(_ENGLISH.split(" "))
        ],
    },
    {"text": "", "start_ms": 9000, "end_ms": 9100},
    {"text": "a < b & c --> d\n\nforged", "start_ms": 9100, "end_ms": 9900},
]


def _post_text(client: FlaskClient, body: Any, **headers: str) -> Any:
    return client.post("/api/asr/subtitles", json=body, headers=headers)


@pytest.mark.parametrize(
    ("output", "content_type"),
    [("srt", "application/x-subrip"), ("vtt", "text/vtt"), ("txt", "text/plain")],
)
def test_posted_timestamps_give_what_a_stored_result_gives(
    client: FlaskClient, service: AsrService, output: str, content_type: str, tmp_path: Path
) -> None:
    session_id, token = "c" * 32, "token-of-the-posted-recording"
    service.results.save(session_id, token, {"session_id": session_id, "timestamps": _POSTED})
    stored = client.get(
        f"/api/asr/sessions/{session_id}/result?format={output}", headers={"X-Resume-Token": token}
    )
    posted = _post_text(client, {"timestamps": _POSTED, "format": output, "filename": "会议 记录.m4a"})
    assert posted.status_code == 200, posted.get_json()
    assert posted.get_data() == stored.get_data() and posted.get_data(as_text=True).count("forged") == 1
    assert (
        posted.headers["Content-Type"] == stored.headers["Content-Type"] == f"{content_type}; charset=utf-8"
    )
    assert posted.headers["Content-Disposition"] == (  # a header is Latin-1: RFC 5987 for the rest
        f"attachment; filename=transcript.{output}; "
        f"filename*=UTF-8''%E4%BC%9A%E8%AE%AE%20%E8%AE%B0%E5%BD%95.{output}"
    )
    posted.headers["Content-Disposition"].encode("latin-1")
    if output == "txt":
        assert posted.get_data(as_text=True).splitlines()[-1] == "a < b & c --> d  forged"
        return
    path = tmp_path / f"posted.{output}"
    path.write_bytes(posted.get_data())
    parsed = _parsed(path, "srt" if output == "srt" else "webvtt")
    # two lines a cue; the worded sentence lasts from its first word to its last; the line break is a space
    assert [(start, end) for start, end, _ in parsed] == [(0, 5200), (5300, 8750), (9100, 9900)]
    assert parsed[1][2] == "Word timed English sentence that is long\nenough to need a second line here."
    assert parsed[2][2].endswith("d  forged")


def test_no_sentences_give_the_servers_empty_files(client: FlaskClient) -> None:
    answers = {f: _post_text(client, {"timestamps": [], "format": f}) for f in ("txt", "srt", "vtt")}
    assert {f: r.get_data(as_text=True) for f, r in answers.items()} == {
        "txt": "",
        "srt": "",
        "vtt": "WEBVTT\n\n",
    }
    assert answers["txt"].headers["Content-Disposition"] == "attachment; filename=transcript.txt"


def test_posted_subtitles_refuse_what_is_not_a_transcript(client: FlaskClient) -> None:
    as_form = client.post("/api/asr/subtitles", data={"timestamps": "[]", "format": "srt"})
    assert "application/json" in _assert_error(as_form, 400, "bad_request")["error"]
    _assert_error(
        client.post("/api/asr/subtitles", data=b"{", content_type="application/json"), 400, "bad_request"
    )
    _assert_error(_post_text(client, {"timestamps": [], "format": "docx"}), 400, "bad_request")
    _assert_error(_post_text(client, {"timestamps": [{"text": "x"}], "format": "srt"}), 400, "bad_timestamps")
    _assert_error(_post_text(client, {"format": "srt", "timestamps": 5}), 400, "bad_timestamps")
    lone = b'{"format": "srt", "timestamps": [{"text": "\\ud800", "start_ms": 0, "end_ms": 1}]}'
    _assert_error(
        client.post("/api/asr/subtitles", data=lone, content_type="application/json"), 400, "bad_timestamps"
    )
    _assert_error(client.get("/api/asr/subtitles"), 405, "method_not_allowed")


def test_a_posted_transcript_over_the_limit_is_refused(client: FlaskClient) -> None:
    from asr_service.subtitle_request import MAX_BODY_BYTES

    head, tail = b'{"format": "txt", "timestamps": [', b"]}"
    at_limit = head + b" " * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(at_limit) == MAX_BODY_BYTES
    assert (
        client.post("/api/asr/subtitles", data=at_limit, content_type="application/json").status_code == 200
    )
    over = at_limit[:-2] + b" " + tail
    response = client.post("/api/asr/subtitles", data=over, content_type="application/json")
    assert "4 MB" in _assert_error(response, 413, "body_too_large")["error"]
    for body in (at_limit, over + b" " * 1_000_000):  # no Content-Length: the stream is cut at the limit
        streamed = client.post(
            "/api/asr/subtitles",
            input_stream=io.BytesIO(body),
            content_type="application/json",
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert streamed.status_code == (200 if body == at_limit else 413)


def test_posted_subtitles_need_the_api_key_when_one_is_set(service: AsrService, tmp_path: Path) -> None:
    secured = Settings.from_env({"ASR_API_KEY": "s3cret-key", "ASR_DATA_DIR": str(tmp_path)})
    app, _ = create_app(secured, service)
    body = {"timestamps": _POSTED[:1], "format": "txt"}
    with app.test_client() as c:
        _assert_error(_post_text(c, body), 401, "unauthorized")
        _assert_error(_post_text(c, body, **{"X-API-Key": "wrong"}), 401, "unauthorized")
        assert _post_text(c, body, **{"X-API-Key": "s3cret-key"}).status_code == 200
        assert _post_text(c, body, Authorization="Bearer s3cret-key").status_code == 200


def test_a_download_named_in_chinese_has_a_header_a_server_can_send(
    client: FlaskClient, speech_wav: Path
) -> None:
    response = _upload(client, speech_wav.read_bytes(), "周会 记录.wav", format="txt")
    disposition = response.headers["Content-Disposition"]
    disposition.encode("latin-1")  # HTTP servers send headers as Latin-1 and drop the connection otherwise
    assert (
        disposition
        == "attachment; filename=transcript.txt; filename*=UTF-8''%E5%91%A8%E4%BC%9A%20%E8%AE%B0%E5%BD%95.txt"
    )
    mixed = _post_text(client, {"timestamps": [], "format": "srt", "filename": "Café 周会.mp3"})
    assert mixed.headers["Content-Disposition"] == (
        "attachment; filename=Cafe.srt; filename*=UTF-8''Caf%C3%A9%20%E5%91%A8%E4%BC%9A.srt"
    )

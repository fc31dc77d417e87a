"""SenseVoice's sentencepiece vocabulary, laid out so every token id FunASR hard-codes stays valid."""

from __future__ import annotations

import string
from typing import Any, Literal

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from .vocab import EN_WORDS, all_cjk, dedup

PieceType = Literal["NORMAL", "UNKNOWN", "CONTROL", "USER_DEFINED"]
Piece = tuple[str, PieceType]

BPE_MODEL_NAME = "chn_jpn_yue_eng_ko_spectok.bpe.model"
VOCAB_SIZE = 25055
# Ids from here on are <|...|> special tokens (languages, events, emotions, text-norm flags).
SPECIAL_START = 24884
# Below this id the specials are Whisper-style language tags.
NOSPEECH_ID = 24992

# Tag ids used by the calibration (and by FunASR's SenseVoice model and postprocessing).
ZH, EN, YUE, JA, KO = 24884, 24885, 24888, 24892, 24896
SPEECH_EVENT = 24993
NEUTRAL_EMOTION = 25004
WITH_ITN, WITHOUT_ITN = 25016, 25017

# Every id hard-coded in funasr/models/sense_voice/model.py or its postprocess_utils.
FIXED_SPECIALS = {
    ZH: "<|zh|>", EN: "<|en|>", YUE: "<|yue|>", JA: "<|ja|>", KO: "<|ko|>",
    NOSPEECH_ID: "<|nospeech|>",
    SPEECH_EVENT: "<|Speech|>", 24994: "<|BGM|>", 24995: "<|Applause|>", 24996: "<|Laughter|>",
    24997: "<|Cry|>", 24998: "<|Sneeze|>", 24999: "<|Breath|>", 25000: "<|Cough|>",
    25001: "<|HAPPY|>", 25002: "<|SAD|>", 25003: "<|ANGRY|>", NEUTRAL_EMOTION: "<|NEUTRAL|>",
    25005: "<|FEARFUL|>", 25006: "<|DISGUSTED|>", 25007: "<|SURPRISED|>", 25008: "<|Event_UNK|>",
    25009: "<|EMO_UNKNOWN|>",
    WITH_ITN: "<|withitn|>", WITHOUT_ITN: "<|woitn|>",
}

# Fillers for the language-tag ids FunASR does not name, in Whisper's order.
_WHISPER_LANGS_TEXT = (
    "de es ru fr pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la mi "
    "ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc "
    "ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su"
)
WHISPER_LANGS = tuple(_WHISPER_LANGS_TEXT.split())

# A generated protobuf module: its classes are created at run time, so mypy cannot see them.
_PB: Any = sentencepiece_model_pb2

# Hanzi before hangul up to here, so the common hanzi come first like in the released model.
_HANZI_BEFORE_HANGUL = 15000
_HANGUL_PIECES = 4000


def special_pieces(vocab_size: int = VOCAB_SIZE) -> list[str]:
    """The <|...|> pieces for ids SPECIAL_START..vocab_size-1."""
    langs = iter(WHISPER_LANGS)
    out: list[str] = []
    for i in range(SPECIAL_START, vocab_size):
        if i in FIXED_SPECIALS:
            out.append(FIXED_SPECIALS[i])
        elif i < NOSPEECH_ID:
            out.append(f"<|{next(langs, f'lang{i}')}|>")
        else:
            out.append(f"<|SPECIAL_TOKEN_{i - NOSPEECH_ID}|>")
    return out


def normal_pieces(count: int) -> list[str]:
    """count ordinary pieces: punctuation, digits, English, kana, then hanzi and hangul."""
    punct = [*"，。？！、：；“”‘’（）《》,.?!:;'\"()-%", *string.digits]
    kana = [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)]
    english = [*string.ascii_lowercase, *string.ascii_uppercase]
    english += ["▁" + c for c in string.ascii_lowercase]
    # every prefix of each word too, so BPE re-encoding of any piece yields that same single piece
    english += ["▁" + w[:k] for w in EN_WORDS for k in range(1, len(w) + 1)]
    head = dedup(["▁", *punct, *english, *kana])
    hanzi = all_cjk()
    hangul = [chr(c) for c in range(0xAC00, 0xD7A4)]
    split = _HANZI_BEFORE_HANGUL
    pieces = dedup(head + hanzi[:split] + hangul[:_HANGUL_PIECES] + hanzi[split:])
    if len(pieces) < count:
        raise ValueError(f"only {len(pieces)} normal pieces available, want {count}")
    return pieces[:count]


def sensevoice_pieces(vocab_size: int = VOCAB_SIZE) -> list[Piece]:
    """(piece, type) for every id, with the released SenseVoice id layout for all ids FunASR uses."""
    pieces: list[Piece] = [("<unk>", "UNKNOWN"), ("<s>", "CONTROL"), ("</s>", "CONTROL")]
    pieces += [(p, "NORMAL") for p in normal_pieces(SPECIAL_START - len(pieces))]
    pieces += [(p, "USER_DEFINED") for p in special_pieces(vocab_size)]
    return pieces


def sentencepiece_model(pieces: list[Piece]) -> bytes:
    """A serialized BPE sentencepiece ModelProto holding exactly `pieces`, validated by loading it."""
    model = _PB.ModelProto()
    trainer = model.trainer_spec
    trainer.model_type = _PB.TrainerSpec.BPE
    trainer.vocab_size = len(pieces)
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = 0, 1, 2, -1
    trainer.unk_piece, trainer.bos_piece, trainer.eos_piece = "<unk>", "<s>", "</s>"
    trainer.character_coverage = 1.0
    trainer.byte_fallback = False
    normalizer = model.normalizer_spec
    normalizer.name = "identity"
    # No dummy prefix: SenseVoiceSmall.inference(output_timestamp=True) re-encodes each decoded piece on
    # its own and needs exactly one id back (a dummy '▁' would give two and an IndexError).
    normalizer.add_dummy_prefix = False
    normalizer.remove_extra_whitespaces = True
    normalizer.escape_whitespaces = True
    for i, (text, kind) in enumerate(pieces):
        piece = model.pieces.add()
        piece.piece = text
        piece.type = getattr(_PB.ModelProto.SentencePiece, kind)
        # BPE merges prefer higher scores: earlier (more common) normal pieces win
        piece.score = -float(i) if kind == "NORMAL" else 0.0
    data: bytes = model.SerializeToString()
    processor = spm.SentencePieceProcessor(model_proto=data)
    if processor.GetPieceSize() != len(pieces):
        raise RuntimeError(f"sentencepiece kept {processor.GetPieceSize()} of {len(pieces)} pieces")
    if len(pieces) == VOCAB_SIZE and processor.PieceToId("<|withitn|>") != WITH_ITN:
        raise RuntimeError("sentencepiece model does not map <|withitn|> to its released id")
    return data

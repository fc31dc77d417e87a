"""Deterministic character vocabularies for the Paraformer and punctuation models (no downloads)."""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable, Iterator

# ~500 very frequent simplified Chinese characters in frequency order; tiny vocabularies start with
# them so random output from a small model still looks like everyday Mandarin.
COMMON_ZH = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作"
    "里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从"
    "想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头"
    "文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提"
    "立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务"
    "做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像"
    "难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导"
    "争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗"
    "字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器"
    "容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周"
)

# Common English words: the released Paraformer and punctuation vocabularies both hold English units.
_EN_WORDS_TEXT = (
    "the of and to a in is you that it he was for on are as with his they i at be this have from or one "
    "had by word but not what all were we when your can said there use an each which she do how their if "
    "will up other about out many then them these so some her would make like him into time has look two "
    "more write go see number no way could people my than first water been call who oil its now find long "
    "down day did get come made may part hello thank okay yes good price meeting venue hotels business "
    "market service street road order product world school city house free need help work home team data "
    "model voice speech audio text test check point line room food life just very well back also only new"
)
EN_WORDS = tuple(_EN_WORDS_TEXT.split())

# Above this size a vocabulary is "full" (released layout); below it, a tiny test vocabulary.
FULL_VOCAB_MIN = 4000
# The released vocab8404 holds ~7327 hanzi and ~1077 English sub-words.
FULL_PARAFORMER_EN_UNITS = 1077
# The released punctuation vocabulary keeps about this many non-hanzi words.
FULL_PUNC_MIN_EN_WORDS = 1000
# <blank>, <s>, </s> at the start and <unk> at the end of every char vocabulary.
N_SPECIAL = 4


def dedup(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))


def is_cjk(token: str) -> bool:
    """True for a single CJK ideograph (Unified or Extension A)."""
    return len(token) == 1 and "\u3400" <= token <= "\u9fff"


def gb2312_hanzi() -> list[str]:
    """The 6763 GB2312 hanzi (3755 common level-1, then 3008 level-2), decoded from the codec."""
    out: list[str] = []
    for row in range(0xB0, 0xF8):
        for col in range(0xA1, 0xFF):
            if row == 0xD7 and col > 0xF9:  # row 55 ends after 89 characters (the rest do not decode)
                continue
            out.append(bytes([row, col]).decode("gb2312"))
    return out


def all_cjk() -> list[str]:
    """GB2312 hanzi first (the common ones), then the rest of CJK Unified Ideographs and Extension A."""
    rest = [chr(c) for c in range(0x4E00, 0xA000)] + [chr(c) for c in range(0x3400, 0x4DC0)]
    return dedup(gb2312_hanzi() + rest)


def _letter_ngrams() -> Iterator[str]:
    """aa..zz, aaa..zzz, aaaa..zzzz, then w0, w1, ... forever: an endless supply of distinct tokens."""
    letters = string.ascii_lowercase
    for n in range(2, 5):
        yield from ("".join(p) for p in itertools.product(letters, repeat=n))
    yield from (f"w{k}" for k in itertools.count())


def ascii_words(n: int) -> list[str]:
    """n distinct ascii tokens: real English words, single letters, then letter n-grams."""
    out = dedup([*EN_WORDS, *string.ascii_lowercase])
    seen = set(out)
    for token in _letter_ngrams():
        if len(out) >= n:
            break
        if token not in seen:
            seen.add(token)
            out.append(token)
    return out[:n]


def _with_specials(units: list[str], vocab_size: int) -> list[str]:
    """The released token-list layout: <blank>, <s>, </s>, units..., <unk> (last)."""
    tokens = ["<blank>", "<s>", "</s>", *units, "<unk>"]
    if len(tokens) != vocab_size or len(set(tokens)) != vocab_size:
        raise ValueError(f"{len(tokens)} tokens ({len(set(tokens))} distinct), want {vocab_size}")
    return tokens


def paraformer_tokens(vocab_size: int) -> list[str]:
    """Paraformer tokens.json: hanzi then English sub-words, mixed like the released vocab8404."""
    n_units = vocab_size - N_SPECIAL
    if vocab_size >= FULL_VOCAB_MIN:
        n_en = FULL_PARAFORMER_EN_UNITS
        hanzi = all_cjk()
    else:
        n_en = max(8, n_units // 8)
        hanzi = dedup([*COMMON_ZH, *all_cjk()])
    return _with_specials(hanzi[: n_units - n_en] + ascii_words(n_en), vocab_size)


def punc_tokens(vocab_size: int) -> list[str]:
    """Punctuation tokens.json: as many hanzi as fit, then English words filling the huge released vocab."""
    n_units = vocab_size - N_SPECIAL
    hanzi = dedup([*COMMON_ZH, *all_cjk()])
    if vocab_size < FULL_VOCAB_MIN:
        n_zh = n_units - max(8, n_units // 8)
    else:
        n_zh = min(len(hanzi), n_units - FULL_PUNC_MIN_EN_WORDS)
    hanzi = hanzi[:n_zh]
    return _with_specials(hanzi + ascii_words(n_units - len(hanzi)), vocab_size)

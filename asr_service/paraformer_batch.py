"""Streaming Paraformer steps of several streams in one encoder call, bit-identical to one call each.

On CPU a 600 ms chunk is a few frames, so each of the encoder's matrix products reads all its
weights (hundreds of MB) for very little arithmetic: the chunk time is spent streaming weights
from memory. Stacking the chunks of streams that are due at the same time reads the weights once
for all of them (two streams cost about 1.2 times one). Each stream keeps its own cache; only
the encoder's layers run stacked, the position encoding, predictor and decoder run per stream.

This follows FunASR 1.4's ParaformerStreaming.inference/generate_chunk for a full, non-final
600 ms chunk with greedy decoding; every other step goes through `AutoModel.generate` unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from funasr.utils.load_utils import extract_fbank
from funasr.utils.postprocess_utils import sentence_postprocess

from .roles import StreamStep

# AutoModel.generate with one stream's step; used for anything the batched path does not cover.
SingleStep = Callable[[StreamStep], str]


class BatchedParaformer:
    """Runs the batchable steps of an AutoModel-wrapped ParaformerStreaming together."""

    def __init__(self, automodel: Any, options: dict[str, Any], single: SingleStep) -> None:
        self._model = automodel.model
        # the model's configuration as generate passes it (minus any call state it was left with)
        self._kwargs = {k: v for k, v in {**automodel.kwargs, **options}.items() if k != "cache"}
        self._frontend = automodel.kwargs["frontend"]
        self._tokenizer = automodel.kwargs["tokenizer"]
        self._stride = int(options["chunk_size"][1] * 960)  # samples per chunk, as FunASR counts
        self._single = single
        encoder = getattr(self._model, "encoder", None)
        decoder = getattr(self._model, "decoder", None)
        # the released layout (SANMEncoderChunkOpt, ParaformerSANMDecoder); anything else goes singly
        self._stackable = hasattr(encoder, "_add_overlap_chunk") and hasattr(decoder, "decoders3")

    def step_many(self, steps: Sequence[StreamStep]) -> list[str]:
        """New text of each step, as if each had been its own `generate` call, in order."""
        texts: list[str | None] = [None] * len(steps)
        groups: dict[object, list[int]] = defaultdict(list)
        for index, step in enumerate(steps):
            if self._batchable(step):
                groups[self._signature(step.cache)].append(index)
            else:
                texts[index] = self._single(step)
        for indices in groups.values():
            if len(indices) == 1:
                texts[indices[0]] = self._single(steps[indices[0]])
                continue
            for index, text in zip(indices, self._run([steps[i] for i in indices]), strict=True):
                texts[index] = text
        return [t or "" for t in texts]

    def _batchable(self, step: StreamStep) -> bool:
        """A full, non-final chunk with nothing carried over, on a greedy-decoding model."""
        carried = step.cache.get("prev_samples")
        carried_n = 0 if carried is None else len(carried)  # type: ignore[arg-type]
        return (
            self._stackable
            and not step.is_final
            and carried_n + len(step.chunk) == self._stride
            and getattr(self._model, "beam_search", None) is None
        )

    @staticmethod
    def _signature(cache: dict[str, Any]) -> object:
        """Streams can stack only while their look-back caches have the same length."""
        if not cache:
            return "new"
        layers = cache["encoder"]["opt"]
        if layers is None or layers[0] is None:
            return "empty"
        return ("look-back", tuple(layers[0]["k"].shape))

    def _run(self, steps: Sequence[StreamStep]) -> list[str]:
        with torch.no_grad():
            feats = [self._features(step) for step in steps]
            caches = [step.cache for step in steps]
            return self._decode(self._encode(feats, caches), caches)

    def _features(self, step: StreamStep) -> torch.Tensor:
        """Fbank of the chunk (after any samples carried from the last call), as FunASR extracts it."""
        cache: dict[str, Any] = step.cache
        if not cache:
            self._model.init_cache(cache, **self._kwargs)
        audio = torch.cat((cache["prev_samples"], torch.from_numpy(np.ascontiguousarray(step.chunk))))
        speech, lengths = extract_fbank(
            [audio], data_type="sound", frontend=self._frontend, cache=cache["frontend"], is_final=False
        )
        cache["prev_samples"] = torch.empty(0)
        normalize = getattr(self._model, "normalize", None)
        if normalize is not None:
            speech, lengths = normalize(speech, lengths)
        return speech.to(self._kwargs.get("device", "cpu"))

    def _encode(self, feats: Sequence[torch.Tensor], caches: Sequence[dict[str, Any]]) -> torch.Tensor:
        """SANMEncoderChunkOpt.forward_chunk over stacked streams; each cache gets its own share."""
        encoder = self._model.encoder
        inputs = []
        for speech, cache in zip(feats, caches, strict=True):
            state = cache["encoder"]
            x = speech * encoder.output_size() ** 0.5
            x = encoder.embed(x, state) if encoder.embed is not None else x
            inputs.append(encoder._add_overlap_chunk(x, state))
        xs = torch.cat(inputs, dim=0)
        state0 = caches[0]["encoder"]
        chunk_size, look_back = state0["chunk_size"], state0["encoder_chunk_look_back"]
        first = len(encoder.encoders0)
        per_stream = [self._layer_caches(c["encoder"], first + len(encoder.encoders)) for c in caches]
        for index, layer in enumerate(encoder.encoders0):
            # FunASR stores the first block's cache at slot 0 whatever its index; so do we
            xs = self._layer(layer, xs, per_stream, index, 0, chunk_size, look_back)
        for index, layer in enumerate(encoder.encoders, start=first):
            xs = self._layer(layer, xs, per_stream, index, index, chunk_size, look_back)
        if encoder.normalize_before:
            xs = encoder.after_norm(xs)
        if look_back > 0 or look_back == -1:
            for cache, layers in zip(caches, per_stream, strict=True):
                cache["encoder"]["opt"] = layers
        return xs

    @staticmethod
    def _layer_caches(state: dict[str, Any], count: int) -> list[Any]:
        return list(state["opt"]) if state["opt"] is not None else [None] * count

    @staticmethod
    def _layer(
        layer: Any,
        xs: torch.Tensor,
        per_stream: list[list[Any]],
        read: int,
        write: int,
        chunk_size: Any,
        look_back: int,
    ) -> torch.Tensor:
        """One encoder block over the stack, splitting its look-back cache back per stream."""
        if per_stream[0][read] is None:
            stacked = None
        else:
            stacked = {key: torch.cat([s[read][key] for s in per_stream]) for key in ("k", "v")}
        xs, new = layer.forward_chunk(xs, stacked, chunk_size, look_back)
        for row, layers in enumerate(per_stream):
            layers[write] = None if new is None else {key: new[key][row : row + 1] for key in ("k", "v")}
        return xs

    def _decode(self, encoded: torch.Tensor, caches: Sequence[dict[str, Any]]) -> list[str]:
        """Predictor per stream, then the decoder over every stream that fired tokens, greedy text."""
        model = self._model
        lengths = torch.tensor([encoded.size(1)])
        texts = [str(sentence_postprocess([])[0])] * len(caches)
        firing: list[tuple[int, torch.Tensor, int]] = []  # stream, acoustic embeddings, token count
        for row, cache in enumerate(caches):
            acoustic, token_length, _alphas, _peaks = model.calc_predictor_chunk(
                encoded[row : row + 1], lengths, cache=cache, is_final=False
            )
            count = int(token_length.round().long().max())
            if count >= 1:  # no token: FunASR skips the decoder (and leaves its caches alone)
                firing.append((row, acoustic, count))
        if not firing:
            return texts
        rows = [row for row, _, _ in firing]
        scores = self._decoder([a for _, a, _ in firing], encoded[rows], [caches[r]["decoder"] for r in rows])
        for (row, _acoustic, count), logits in zip(firing, scores, strict=True):
            ids = logits[0, :count, :].argmax(dim=-1).tolist()
            ids = [i for i in ids if i not in (model.eos, model.sos, model.blank_id)]
            texts[row] = str(sentence_postprocess(self._tokenizer.ids2tokens(ids))[0])
        return texts

    def _decoder(
        self, targets: list[torch.Tensor], memory: torch.Tensor, states: list[dict[str, Any]]
    ) -> list[torch.Tensor]:
        """ParaformerSANMDecoder.forward_chunk for several streams: position-wise parts packed."""
        decoder = self._model.decoder
        extra = len(decoder.decoders2) if decoder.decoders2 is not None else 0
        fsmn = [list(s["decode_fsmn"] or [None] * (len(decoder.decoders) + extra)) for s in states]
        opt = [list(s["opt"] or [None] * len(decoder.decoders)) for s in states]
        chunk_size, look_back = states[0]["chunk_size"], states[0]["decoder_chunk_look_back"]
        xs = targets
        for i in range(decoder.att_layer_num):
            xs = self._decoder_layer(decoder.decoders[i], xs, memory, fsmn, opt, i, chunk_size, look_back)
        if decoder.num_blocks - decoder.att_layer_num > 1:  # sic: FunASR's condition
            for i in range(decoder.num_blocks - decoder.att_layer_num):
                j = i + decoder.att_layer_num
                xs = self._decoder_layer(decoder.decoders2[i], xs, memory, fsmn, None, j, None, 0)
        for layer in decoder.decoders3:
            xs = self._decoder_layer(layer, xs, memory, None, None, 0, None, 0)
        sizes = [x.size(1) for x in xs]
        packed = torch.cat(xs, dim=1)
        if decoder.normalize_before:
            packed = decoder.after_norm(packed)
        if decoder.output_layer is not None:
            packed = decoder.output_layer(packed)
        for state, layers_fsmn, layers_opt in zip(states, fsmn, opt, strict=True):
            state["decode_fsmn"] = layers_fsmn
            if look_back > 0 or look_back == -1:
                state["opt"] = layers_opt
        return [torch.log_softmax(x, dim=-1) for x in packed.split(sizes, dim=1)]

    @staticmethod
    def _decoder_layer(
        layer: Any,
        xs: list[torch.Tensor],
        memory: torch.Tensor,
        fsmn: list[list[Any]] | None,
        opt: list[list[Any]] | None,
        slot: int,
        chunk_size: Any,
        look_back: int,
    ) -> list[torch.Tensor]:
        """DecoderLayerSANM.forward_chunk per stream, with its position-wise products run packed."""
        sizes = [x.size(1) for x in xs]
        packed = torch.cat(xs, dim=1)
        if layer.normalize_before:
            packed = layer.norm1(packed)
        packed = layer.feed_forward(packed)
        out = list(packed.split(sizes, dim=1))
        if layer.self_attn:
            normed = layer.norm2(packed) if layer.normalize_before else packed
            for b, part in enumerate(normed.split(sizes, dim=1)):
                cache = fsmn[b][slot] if fsmn is not None else None
                attended, cache = layer.self_attn(part, None, cache)
                if fsmn is not None:
                    fsmn[b][slot] = cache
                out[b] = xs[b] + layer.dropout(attended)
        if layer.src_attn is not None:
            query = torch.cat(out, dim=1)
            if layer.normalize_before:
                query = layer.norm3(query)
            attended = _cross_attention(
                layer.src_attn, query, sizes, memory, opt, slot, chunk_size, look_back
            )
            out = [x + a for x, a in zip(out, attended, strict=True)]
        return out


def _cross_attention(
    attention: Any,
    query: torch.Tensor,
    sizes: list[int],
    memory: torch.Tensor,
    opt: list[list[Any]] | None,
    slot: int,
    chunk_size: Any,
    look_back: int,
) -> list[torch.Tensor]:
    """MultiHeadedAttentionCrossAtt.forward_chunk per stream; its three projections run packed."""
    heads, d_k = attention.h, attention.d_k
    q_all = attention.linear_q(query)
    k_all, v_all = torch.split(attention.linear_k_v(memory), heads * d_k, dim=-1)
    outs = []
    for b, q in enumerate(q_all.split(sizes, dim=1)):
        q_h = torch.reshape(q, (1, -1, heads, d_k)).transpose(1, 2)
        k_h = torch.reshape(k_all[b : b + 1], (1, -1, heads, d_k)).transpose(1, 2)
        v_h = torch.reshape(v_all[b : b + 1], (1, -1, heads, d_k)).transpose(1, 2)
        if chunk_size is not None and look_back > 0 and opt is not None:
            keep = look_back * chunk_size[1]
            cache = opt[b][slot]
            if cache is not None:
                k_h = torch.cat((cache["k"], k_h), dim=2)
                v_h = torch.cat((cache["v"], v_h), dim=2)
                cache["k"], cache["v"] = k_h[:, :, -keep:, :], v_h[:, :, -keep:, :]
            else:
                opt[b][slot] = {"k": k_h[:, :, -keep:, :], "v": v_h[:, :, -keep:, :]}
        scores = torch.matmul(q_h * d_k ** (-0.5), k_h.transpose(-2, -1))
        weights = attention.dropout(torch.softmax(scores, dim=-1))
        outs.append(torch.matmul(weights, v_h).transpose(1, 2).contiguous().view(1, -1, heads * d_k))
    return list(attention.linear_out(torch.cat(outs, dim=1)).split(sizes, dim=1))

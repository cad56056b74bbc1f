"""sentence-transformers' ``CrossEncoder`` interface on vlrerank: change the import, keep the code.

``predict`` and ``rank`` take sentence-transformers' arguments (6.2 names and order) and return its
shapes and types; the numbers are vlrerank's, which follow the published Qwen3-VL-Reranker recipe
(images sized by the published pixel bounds, image parts before text, float32 logits). Where
sentence-transformers' own inputs match that recipe the two agree to float32 rounding: see
``docs/sentence-transformers.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
import torch

from .config import EngineConfig
from .errors import ConfigError, InputError, ScoringFailed
from .inputs.schema import MultimodalInput, to_multimodal
from .reranker import Reranker

Activation = Callable[[torch.Tensor], torch.Tensor]
Device = str | torch.device | None

# What sentence-transformers reads as an image or video when a pair side is a string: a data URI, a
# URL ending in one of these, or an existing file ending in one of these. Anything else is text.
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tiff", ".webp")
_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".wmv", ".flv", ".mkv")


class CrossEncoder:
    """A Qwen3-VL-Reranker as a sentence-transformers ``CrossEncoder``, scored by vlrerank.

    Args:
        model_name_or_path: as :class:`vlrerank.Reranker` (a Hugging Face id, a checkpoint
            directory, or ``tiny-random``, whose random weights make every score meaningless),
            or an existing :class:`vlrerank.Reranker` to share (as :meth:`from_reranker`).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; default: CUDA when available.
        max_length: vlrerank's per-pair text-token cap (``EngineConfig.max_length``), which, as in
            the published recipe, keeps the prompt's closing tokens; sentence-transformers truncates
            the whole rendered prompt instead.
        activation_fn: applied to the yes-minus-no logits; default ``torch.nn.Identity()``, which
            returns the raw logit as sentence-transformers does for these checkpoints. Pass
            ``torch.nn.Sigmoid()`` for the published recipe's probabilities.
        config: engine settings; further keyword arguments override single fields of it.

    Pairs are ``(query, document)``; each side is a string (text, or an image/video path, URL or
    data URI, recognised as sentence-transformers does), a PIL image, or a dict with ``text``,
    ``image`` and/or ``video``. Pairs that share a query are scored as one vlrerank request, so the
    query's prompt and pictures are encoded once and the documents are batched together.

    Example (random weights: the numbers are meaningless):
        >>> from vlrerank import CrossEncoder  # was: from sentence_transformers import CrossEncoder
        >>> model = CrossEncoder("tiny-random")  # doctest: +SKIP
        >>> model.predict([("a red car", "a red car parked outside"), ("a red car", "a bowl of soup")])
        ... # doctest: +SKIP
        array([-0.49116924, -0.4997749 ], dtype=float32)
        >>> model.rank("a red car", ["a red car parked outside", "a bowl of soup"])  # doctest: +SKIP
        [{'corpus_id': 0, 'score': -0.4911692440509796}, {'corpus_id': 1, 'score': -0.49977490305900574}]
    """

    num_labels = 1

    def __init__(
        self,
        model_name_or_path: str | Reranker,
        *,
        device: str | torch.device | None = None,
        max_length: int | None = None,
        activation_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        config: EngineConfig | None = None,
        **overrides: Any,
    ) -> None:
        if device is not None:
            overrides["device"] = str(device)
        if max_length is not None:
            overrides["max_length"] = max_length
        if isinstance(model_name_or_path, Reranker):
            if overrides or config is not None:
                raise ConfigError(
                    "CrossEncoder over an existing Reranker takes no engine settings: they are the Reranker's"
                )
            self.reranker = model_name_or_path
        else:
            self.reranker = Reranker(model_name_or_path, config=config, **overrides)
        self.activation_fn: Callable[[torch.Tensor], torch.Tensor] = activation_fn or torch.nn.Identity()

    @classmethod
    def from_reranker(
        cls, reranker: Reranker, activation_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> CrossEncoder:
        """This interface over an existing :class:`vlrerank.Reranker` (shares its model and caches)."""
        return cls(reranker, activation_fn=activation_fn)

    @property
    def device(self) -> torch.device:
        return self.reranker.device

    @property
    def max_length(self) -> int:
        return self.reranker.config.max_length

    @property
    def random_weights(self) -> bool:
        """True for a random-weight checkpoint: its scores are meaningless."""
        return self.reranker.random_weights

    def __repr__(self) -> str:
        return f"CrossEncoder({self.reranker.model_name!r}, device={str(self.device)!r}, engine=vlrerank)"

    # As sentence-transformers types its own: the return type follows convert_to_numpy and
    # convert_to_tensor. numpy gives an array for a list of pairs, a float32 scalar for one pair.
    # fmt: off
    @overload
    def predict(
        self, inputs: Any = ..., prompt_name: str | None = ..., prompt: str | None = ...,
        batch_size: int = ..., show_progress_bar: bool | None = ..., activation_fn: Activation | None = ...,
        apply_softmax: bool | None = ..., convert_to_numpy: Literal[True] = ...,
        convert_to_tensor: Literal[False] = ..., device: Device = ..., *, sentences: Any = ...,
    ) -> np.ndarray | np.float32: ...
    @overload
    def predict(
        self, inputs: Any = ..., prompt_name: str | None = ..., prompt: str | None = ...,
        batch_size: int = ..., show_progress_bar: bool | None = ..., activation_fn: Activation | None = ...,
        apply_softmax: bool | None = ..., convert_to_numpy: bool = ..., *, convert_to_tensor: Literal[True],
        device: Device = ..., sentences: Any = ...,
    ) -> torch.Tensor: ...
    @overload
    def predict(
        self, inputs: Any = ..., prompt_name: str | None = ..., prompt: str | None = ...,
        batch_size: int = ..., show_progress_bar: bool | None = ..., activation_fn: Activation | None = ...,
        apply_softmax: bool | None = ..., *, convert_to_numpy: Literal[False],
        convert_to_tensor: Literal[False] = ..., device: Device = ..., sentences: Any = ...,
    ) -> torch.Tensor | list[torch.Tensor]: ...
    @overload
    def predict(
        self, inputs: Any = ..., prompt_name: str | None = ..., prompt: str | None = ...,
        batch_size: int = ..., show_progress_bar: bool | None = ..., activation_fn: Activation | None = ...,
        apply_softmax: bool | None = ..., convert_to_numpy: bool = ..., convert_to_tensor: bool = ...,
        device: Device = ..., *, sentences: Any = ...,
    ) -> np.ndarray | np.float32 | torch.Tensor | list[torch.Tensor]: ...
    # fmt: on

    def predict(
        self,
        inputs: Any = None,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        apply_softmax: bool | None = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: str | torch.device | None = None,
        *,
        sentences: Any = None,
    ) -> np.ndarray | np.float32 | torch.Tensor | list[torch.Tensor]:
        """Scores of ``(query, document)`` pairs, in the order given.

        Args:
            inputs: one pair, or a list of pairs (``sentences=`` is accepted as in
                sentence-transformers).
            prompt: the instruction (sentence-transformers sends it as the system message, which
                the reranker template writes after ``<Instruct>:``); default: the model's generic
                retrieval instruction.
            prompt_name: named prompts are not supported; must be ``None``.
            batch_size: checked, then left to vlrerank, which batches by tokens
                (``EngineConfig.token_budget``), not by pair count.
            show_progress_bar: accepted; vlrerank shows none.
            activation_fn: overrides the instance's for this call.
            apply_softmax: a no-op, as in sentence-transformers for a one-label model.
            convert_to_numpy / convert_to_tensor: as in sentence-transformers.
            device: ``None``, or the device the model already runs on.

        Returns:
            For one pair, a scalar (``numpy.float32``; a 0-d tensor with ``convert_to_tensor`` or
            ``convert_to_numpy=False``). For a list, a float32 ``numpy`` array, a 1-d tensor on the
            model's device with ``convert_to_tensor``, or a list of 0-d tensors with
            ``convert_to_numpy=False``.

        Raises:
            InputError: a malformed pair, naming it (``inputs[3][1].image``), or an unsupported option.
            ScoringFailed: a pair could not be scored even alone, naming it.

        Example (random weights: the numbers are meaningless):
            >>> model.predict(("a red car", "a red car parked outside"))  # doctest: +SKIP
            np.float32(-0.49116924)
            >>> model.predict([("a red car", "a red car parked outside")], activation_fn=torch.nn.Sigmoid())
            ... # doctest: +SKIP
            array([0.37961817], dtype=float32)
        """
        if sentences is not None:
            if inputs is not None:
                raise InputError("pass the pairs as inputs or as sentences, not both", field="inputs")
            inputs = sentences
        self._check_options(prompt_name, batch_size, device)
        singular = _is_single_pair(inputs)
        pairs = [inputs] if singular else _as_pair_list(inputs)
        logits = self._logits(pairs, prompt)
        scores = self._activate(logits, activation_fn)
        result: Any
        if convert_to_tensor:
            result = scores.to(self.device)
        elif convert_to_numpy:
            # An empty batch gives numpy's default float64, as sentence-transformers does.
            result = scores.numpy() if len(pairs) else np.array([])
        else:
            result = list(scores)
        return result[0] if singular else result

    def rank(
        self,
        query: Any,
        documents: Sequence[Any],
        top_k: int | None = None,
        return_documents: bool = False,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: str | torch.device | None = None,
        *,
        apply_softmax: bool | None = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
    ) -> list[dict[str, Any]]:
        """``documents`` for ``query``, best first: ``[{"corpus_id", "score"[, "text"]}]``.

        Ties keep input order. ``top_k`` keeps the best ``top_k``; ``return_documents`` adds each
        document as given under ``"text"``. ``apply_softmax``, ``convert_to_numpy`` and
        ``convert_to_tensor`` have no effect (sentence-transformers 6.2 ignores them too): scores
        are Python floats. The other arguments are as in :meth:`predict`.

        Example (random weights: the numbers are meaningless):
            >>> model.rank("a red car", ["a red car parked outside", "a bowl of soup"], return_documents=True)
            ... # doctest: +SKIP
            [{'corpus_id': 0, 'score': -0.4911692440509796, 'text': 'a red car parked outside'},
             {'corpus_id': 1, 'score': -0.49977490305900574, 'text': 'a bowl of soup'}]
        """
        if isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Sequence):
            raise InputError("expected a list of documents", field="documents")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)):
            raise InputError(f"top_k must be an integer or None, got {top_k!r}", field="top_k")
        self._check_options(prompt_name, batch_size, device)
        logits = self._logits([(query, document) for document in documents], prompt)
        scores = self._activate(logits, activation_fn).tolist()
        results: list[dict[str, Any]] = [{"corpus_id": i, "score": s} for i, s in enumerate(scores)]
        if return_documents:
            for result, document in zip(results, documents, strict=True):
                result["text"] = document
        results.sort(key=lambda r: r["score"], reverse=True)  # stable: ties keep input order
        return results[:top_k]

    # -- internals -------------------------------------------------------------------------------
    def _check_options(
        self, prompt_name: str | None, batch_size: int, device: str | torch.device | None
    ) -> None:
        if prompt_name is not None:
            raise InputError(
                f"named prompts are not supported (got prompt_name={prompt_name!r}); pass the instruction "
                "as prompt=",
                field="prompt_name",
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}", field="batch_size")
        if device is not None and torch.device(device) != self.device:
            wanted = torch.device(device)
            same_cuda = wanted.type == self.device.type == "cuda" and wanted.index in (
                None,
                self.device.index,
            )
            if not same_cuda:
                raise ConfigError(
                    f"this model runs on {self.device}; load another CrossEncoder with device={str(device)!r}"
                )

    def _activate(
        self, logits: torch.Tensor, activation_fn: Callable[[torch.Tensor], torch.Tensor] | None
    ) -> torch.Tensor:
        activation = activation_fn if activation_fn is not None else self.activation_fn
        # Applied to a (pairs, 1) column, as sentence-transformers does, so that an activation over
        # the last dimension sees the same shape in both.
        return activation(logits.unsqueeze(-1)).squeeze(-1).float()

    def _logits(self, pairs: Sequence[Any], prompt: str | None) -> torch.Tensor:
        """Yes-minus-no logits (float32) of the pairs, in order; one request per distinct query."""
        if prompt is not None and not isinstance(prompt, str):
            raise InputError(f"expected a string, got {type(prompt).__name__}", field="prompt")
        groups: dict[Hashable, list[int]] = {}
        sides: list[tuple[MultimodalInput, MultimodalInput]] = []
        for i, pair in enumerate(pairs):
            if isinstance(pair, (str, bytes, Mapping)) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise InputError("expected a (query, document) pair", field=f"inputs[{i}]")
            query = to_multimodal(_side(pair[0]), f"inputs[{i}][0]")
            document = to_multimodal(_side(pair[1]), f"inputs[{i}][1]")
            sides.append((query, document))
            groups.setdefault(_identity(pair[0]), []).append(i)
        logits = torch.empty(len(pairs), dtype=torch.float32)
        for members in groups.values():
            query = sides[members[0]][0]
            documents = [sides[i][1] for i in members]
            try:
                ranked = self.reranker.rank(query, documents, instruction=prompt)
            except (InputError, ScoringFailed) as exc:
                raise _renamed(exc, members) from None
            if ranked.rejected:
                failed = ranked.rejected[0]
                kind = type(failed.failure) if failed.failure is not None else ScoringFailed
                raise kind(failed.message, field=f"inputs[{members[failed.index]}]")
            for result in ranked:
                if result.logit is None:  # the engine keeps every scored pair's logit; None is a bug
                    raise ScoringFailed(
                        "no logit was kept for this pair", field=f"inputs[{members[result.index]}]"
                    )
                logits[members[result.index]] = result.logit
        return logits


def _is_single_pair(inputs: Any) -> bool:
    """sentence-transformers' rule: a list/tuple whose first item is not itself a list/tuple."""
    if isinstance(inputs, np.ndarray) and inputs.dtype.kind in ("U", "O"):
        return inputs.size > 0 and inputs.ndim < 2
    if isinstance(inputs, (list, tuple)):
        return len(inputs) > 0 and not isinstance(inputs[0], (list, tuple))
    return True


def _as_pair_list(inputs: Any) -> list[Any]:
    if isinstance(inputs, np.ndarray):
        return list(inputs.tolist())
    if isinstance(inputs, (str, bytes, Mapping)) or not isinstance(inputs, Sequence):
        raise InputError("expected a (query, document) pair or a list of them", field="inputs")
    return list(inputs)


def _media_reference(text: str, suffixes: tuple[str, ...]) -> bool:
    if text.startswith(("http://", "https://")) and " " not in text:
        return text.split("?", 1)[0].split("#", 1)[0].lower().endswith(suffixes)
    return text.lower().endswith(suffixes) and os.path.isfile(text)


def _side(value: Any) -> Any:
    """One pair side in vlrerank's input form; strings are read as sentence-transformers reads them."""
    if isinstance(value, np.str_):
        value = str(value)
    if isinstance(value, str):
        if value.startswith("data:image/") or _media_reference(value, _IMAGE_SUFFIXES):
            return {"image": value}
        if _media_reference(value, _VIDEO_SUFFIXES):
            return {"video": value}
    return value


def _identity(value: Any) -> Hashable:
    """Equal for queries that are the same request: strings by value, pictures by object."""
    if isinstance(value, (str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((str(k), _identity(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_identity(v) for v in value))
    return ("object", id(value))


def _renamed(exc: InputError | ScoringFailed, members: list[int]) -> InputError | ScoringFailed:
    """The error with its field named by pair (``inputs[7][1]``) instead of by request position."""
    field = exc.field
    if field.startswith("query"):
        field = f"inputs[{members[0]}][0]" + field.removeprefix("query")
    elif field.startswith("documents["):
        index, _, rest = field.removeprefix("documents[").partition("]")
        if index.isdigit():
            field = f"inputs[{members[int(index)]}][1]" + rest
    return type(exc)(exc.reason, field=field)


__all__ = ["CrossEncoder"]

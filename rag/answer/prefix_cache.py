"""The key-value state of a prompt's fixed prefix, kept on disk for the next process.

Every answer prompt begins with the same system prompt and worked examples (a few hundred tokens).
A warm process keeps their key-value state in memory between questions, but a new process (every
`rag ask`, every evaluation run, every service restart) used to evaluate them again: ~5 s on two
cores before the first token. Here the state after the prefix is written once, atomically, and a
later process loads it in milliseconds; llama-cpp-python's own longest-common-prefix check then
evaluates only the question-specific part.

A file is named by everything that changes the state it holds: the model's sha256, the prefix's
tokens, n_ctx, the llama.cpp version and the CPU features of its build (the thread count does not
change it). A file that is stale, truncated or refused by llama.cpp is ignored and rewritten,
never trusted: its header must match, and llama.cpp must accept the whole state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from rag.files import atomic_write_bytes, remove_stale_tmp

log = logging.getLogger(__name__)

MAGIC = b"RAGKV1\n"
KEEP = 32  # files kept in the folder (a few prompts × models); older ones (other builds, models) go


class _Captured(Exception):
    """Raised by the recorder once it has the prompt's tokens (nothing is generated)."""


class _Recorder:
    """Stands in for the model inside its own chat handler, to learn the exact tokens that
    `create_chat_completion` would evaluate for a list of messages (the GGUF's template, special
    tokens and all) without evaluating them."""

    def __init__(self, llm: Any):
        self._llm = llm
        self.tokens: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)

    def create_completion(self, prompt: list[int], **_: Any) -> None:
        self.tokens = list(prompt)
        raise _Captured


def build_id() -> str:
    """The llama.cpp build: its version and the CPU features it was compiled for."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    return f"{llama_cpp.__version__}|{info.decode() if isinstance(info, bytes) else info}"


class PrefixCache:
    """Load-or-compute the state after a prompt's fixed prefix (all messages but the last)."""

    def __init__(self, llm: Any, folder: Path, model_id: str, n_ctx: int):
        self.llm, self.folder, self.model_id, self.n_ctx = llm, folder, model_id, n_ctx
        self._build = build_id()
        self._prefixes: dict[str, list[int]] = {}
        self._current: list[int] = []  # the prefix the model's state was last made to begin with
        self.last: str = ""  # what the latest prepare() did: memory | disk | computed | none
        # the same choice as Llama.create_chat_completion (the GGUF's own template is registered
        # there), made once: a server may then route its chat through `prepare` (rag.deploy.llm_server)
        self.handler = llm.chat_handler or llm._chat_handlers.get(llm.chat_format)
        if self.handler is None:
            from llama_cpp import llama_chat_format

            self.handler = llama_chat_format.get_chat_completion_handler(llm.chat_format)

    def prompt_tokens(self, messages: list[dict]) -> list[int]:
        """The tokens `create_chat_completion(messages)` evaluates."""
        rec = _Recorder(self.llm)
        try:
            self.handler(llama=rec, messages=messages, stream=True)
        except _Captured:
            return rec.tokens
        return []

    def prefix_tokens(self, head: list[dict]) -> list[int]:
        """The tokens every prompt that starts with messages `head` shares: the common start of
        two prompts that differ only in their last user message."""
        key = json.dumps(head, ensure_ascii=False, sort_keys=True)
        if key not in self._prefixes:
            a = self.prompt_tokens([*head, {"role": "user", "content": "甲"}])
            b = self.prompt_tokens([*head, {"role": "user", "content": "乙"}])
            n = 0
            for x, y in zip(a, b):
                if x != y:
                    break
                n += 1
            self._prefixes[key] = a[:n]
        return self._prefixes[key]

    def path_for(self, tokens: list[int]) -> Path:
        h = hashlib.sha256()
        for part in (self.model_id, self._build, str(self.n_ctx)):
            h.update(part.encode("utf-8") + b"\0")
        h.update(np.asarray(tokens, dtype=np.int32).tobytes())
        return self.folder / f"prefix-{h.hexdigest()[:24]}.kv"

    def prepare(self, messages: list[dict]) -> None:
        """Make the model's state begin with the prefix of `messages`, from memory, disk, or by
        evaluating it once (and writing it for the next process). The caller holds the model."""
        self.last = "none"
        if len(messages) < 2:
            return
        # A follow-up in the same conversation (the next part of a question) begins with the prompt
        # just answered, passages and reply included: the state in memory already holds all of that,
        # and llama.cpp's own longest-common-prefix check evaluates only the new turn. Its "head"
        # (everything but the last message) is no fixed prefix, so it is neither filed nor evaluated.
        if self._holds(self._current) and self.prompt_tokens(messages)[: len(self._current)] == self._current:
            self.last = "memory"
            return
        tokens = self.prefix_tokens(messages[:-1])
        if len(tokens) < 16 or len(tokens) >= self.n_ctx // 2:
            return
        if self._holds(tokens):
            self.last, self._current = "memory", tokens
            return
        path = self.path_for(tokens)
        if path.exists() and self._load(path, tokens):
            self.last, self._current = "disk", tokens
            return
        self.llm.reset()
        self.llm.eval(tokens)
        self.last, self._current = "computed", tokens
        try:
            self._save(path, tokens)
        except OSError as exc:  # a read-only models folder costs speed, not answers
            log.warning("could not write the prompt-prefix cache %s: %s", path, exc)

    def _holds(self, tokens: list[int]) -> bool:
        """Whether the model's state begins with `tokens`."""
        return (
            bool(tokens) and self.llm.n_tokens >= len(tokens) and self.llm.input_ids[: len(tokens)].tolist() == tokens
        )

    def _key(self, tokens: list[int]) -> dict:
        return {"model": self.model_id, "build": self._build, "n_ctx": self.n_ctx, "n_tokens": len(tokens)}

    def _save(self, path: Path, tokens: list[int]) -> None:
        state = self.llm.save_state()
        blob = bytes(state.llama_state)
        header = json.dumps({**self._key(tokens), "state_size": len(blob), "seed": state.seed}, sort_keys=True).encode(
            "utf-8"
        )
        body = np.asarray(tokens, dtype=np.int32).tobytes()
        digest = hashlib.sha256(header + body + blob).digest()
        atomic_write_bytes(path, MAGIC + struct.pack("<I", len(header)) + header + body + digest + blob)
        self._prune()

    def _prune(self) -> None:
        """Drop the least recently used files beyond KEEP (left by other models, builds or prompts), and
        the half-written files of processes killed while writing one."""
        try:
            remove_stale_tmp(self.folder)
            files = sorted(self.folder.glob("prefix-*.kv"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in files[KEEP:]:
                old.unlink(missing_ok=True)
        except OSError:  # another process pruning at the same time
            pass

    def _load(self, path: Path, tokens: list[int]) -> bool:
        """Restore the state from `path`; False (and the model reset) for anything not exactly right."""
        from llama_cpp.llama import LlamaState

        try:
            data = path.read_bytes()
            if not data.startswith(MAGIC):
                raise ValueError("not a prefix-cache file")
            at = len(MAGIC)
            (hlen,) = struct.unpack_from("<I", data, at)
            at += 4
            header = data[at : at + hlen]
            at += hlen
            meta = json.loads(header)
            body = np.asarray(tokens, dtype=np.int32).tobytes()
            if any(meta.get(k) != v for k, v in self._key(tokens).items()) or data[at : at + len(body)] != body:
                raise ValueError("made for another model, build, context or prompt")
            at += len(body)
            digest, blob = data[at : at + 32], data[at + 32 :]
            if len(blob) != meta["state_size"] or hashlib.sha256(header + body + blob).digest() != digest:
                raise ValueError("truncated or corrupt")
            ids = np.zeros_like(self.llm.input_ids)
            ids[: len(tokens)] = tokens
            # the logits are not kept: llama-cpp-python evaluates a token again after a restored state;
            # one row of zeros broadcasts over the restored rows (a full array costs ~0.1 s to copy)
            self.llm.load_state(
                LlamaState(
                    input_ids=ids,
                    scores=np.zeros((1, self.llm.scores.shape[1]), dtype=np.single),
                    n_tokens=len(tokens),
                    llama_state=blob,
                    llama_state_size=len(blob),
                    seed=int(meta["seed"]),
                )
            )
            try:
                os.utime(path)  # the time of last use, for pruning
            except OSError:
                pass
            return True
        except Exception as exc:  # noqa: BLE001 - any failure means: evaluate the prefix again
            log.warning("ignoring the prompt-prefix cache %s (%s); it will be rewritten", path.name, exc)
            self.llm.reset()
            return False

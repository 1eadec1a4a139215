"""The query model as an ONNX file in the index directory: export it, check it, load it.

`kneebot build-index` exports the bundled weights once (torch is needed only then); serving
processes check the file against its manifest entry and load it with onnxruntime alone. A missing,
stale or corrupt file is re-exported, with a log line, rather than served.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.answering.embedding import MODEL_NAME, OnnxEmbedder, bundled_model_path
from bot.answering.index import IndexUnavailable, read_manifest, update_manifest
from bot.config import use_offline_model

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"  # the graph; the weights sit beside it, so they are mapped, not copied
ONNX_DATA_FILE = "model.onnx.data"
MANIFEST_KEY = "onnx"
EXPORT_FORMAT = 1  # bump when the exported graph changes shape or meaning
OPSET = 17
SOURCE_WEIGHTS = "model.safetensors"
MIN_COSINE = 0.99999  # to the sentence-transformers float32 vector of the same text
CHECK_TEXT = "why do my knees cave in when I squat?"
# Export check: short and long texts in one padded batch, truncation past 256 tokens included.
EXPORT_CHECK_TEXTS = [
    CHECK_TEXT,
    "",
    "Genou en X : que faire ? 🦵",
    "q-angle & hip anteversion; ITB/TFL tightness (R>L)",
    " ".join(["knee valgus when landing from a jump"] * 50),
]


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def source_identity(model_dir: Path, known: dict | None = None) -> dict:
    """The bundled weights' hash, size and mtime; the hash is reused while size and mtime match."""
    stat = (model_dir / SOURCE_WEIGHTS).stat()
    identity = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if known and all(known.get(key) == value for key, value in identity.items()):
        return identity | {"sha256": known.get("sha256")}
    return identity | {"sha256": file_sha256(model_dir / SOURCE_WEIGHTS)}


def onnx_problem(index_dir: Path, model_dir: Path | None = None) -> str | None:
    """Why the exported file must not be served ('missing', 'stale: …', 'corrupt: …'), or None."""
    entry = read_manifest(index_dir).get(MANIFEST_KEY)
    files = [index_dir / ONNX_FILE, index_dir / ONNX_DATA_FILE]
    if not entry or not all(path.exists() for path in files):
        return "missing"
    if entry.get("format") != EXPORT_FORMAT or entry.get("opset") != OPSET:
        return "stale: export format changed"
    source = entry.get("source", {})
    if source.get("model") != MODEL_NAME:
        return "stale: model changed"
    current = source_identity(model_dir or bundled_model_path(), known=source)
    if current["sha256"] != source.get("sha256"):
        return "stale: bundled model weights changed"
    for path in files:
        if _untouched(path, entry.get("files", {}).get(path.name)):
            continue  # as exported: hashing 90 MB would be a tenth of a cold start
        if file_sha256(path) != entry.get("sha256", {}).get(path.name):
            return f"corrupt: {path.name} checksum mismatch"
    return None


def _file_identity(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _untouched(path: Path, recorded: dict | None) -> bool:
    """Same size and modification time as when exported; any write, copy or truncation changes
    one of them, and then the file is hashed against the manifest."""
    return recorded is not None and _file_identity(path) == recorded


def load_onnx_embedder(index_dir: Path, model_dir: Path | None = None) -> OnnxEmbedder:
    """The ONNX embedder over a checked file; re-exported first when missing, stale or corrupt."""
    problem = onnx_problem(index_dir, model_dir)
    if problem:
        log.warning("ONNX model in %s is %s: exporting it", index_dir, problem)
        export_onnx(index_dir, model_dir)
    embedder = OnnxEmbedder(index_dir / ONNX_FILE, model_dir)
    entry = read_manifest(index_dir)[MANIFEST_KEY]
    cosine = float(embedder.encode([entry["check_text"]])[0] @ np.asarray(entry["check_vector"]))
    if cosine < MIN_COSINE:
        # The file is intact but this runtime computes something else: never serve that.
        raise IndexUnavailable(
            f"the ONNX model in {index_dir} disagrees with its check vector (cosine {cosine:.6f})"
        )
    return embedder


def export_onnx(index_dir: Path, model_dir: Path | None = None) -> dict:
    """Export the bundled model (mean pooling and normalisation in the graph); check; record."""
    use_offline_model()
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model_dir = model_dir or bundled_model_path()
    # float32 and plain attention: the reference vectors, and a graph the tracer exports cleanly.
    reference = SentenceTransformer(
        str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    expected = reference.encode(
        EXPORT_CHECK_TEXTS, normalize_embeddings=True, show_progress_bar=False
    )
    index_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=".onnx-", dir=index_dir))
    try:
        _trace(reference[0].auto_model, work_dir / ONNX_FILE)
        cosine = _lowest_cosine(OnnxEmbedder(work_dir / ONNX_FILE, model_dir), expected)
        if cosine < MIN_COSINE:
            raise IndexUnavailable(f"the ONNX export disagrees with the reference ({cosine:.6f})")
        entry = _manifest_entry(work_dir, model_dir, expected[0])
        for name in (ONNX_DATA_FILE, ONNX_FILE):  # the graph last: it names the data file
            (work_dir / name).chmod(0o644)
            (work_dir / name).replace(index_dir / name)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    # A crash before this line leaves files whose checksums the manifest lacks: re-exported.
    update_manifest(index_dir, MANIFEST_KEY, entry)
    seconds = time.perf_counter() - started
    log.info(
        "ONNX model exported in %.1f s to %s (lowest cosine to the reference %.7f)",
        seconds,
        index_dir,
        cosine,
    )
    return entry


def _lowest_cosine(embedder: OnnxEmbedder, expected: np.ndarray) -> float:
    batched = embedder.encode(EXPORT_CHECK_TEXTS)
    alone = np.concatenate([embedder.encode([text]) for text in EXPORT_CHECK_TEXTS])
    return float(min((batched * expected).sum(1).min(), (alone * expected).sum(1).min()))


def _trace(bert, path: Path) -> None:
    """torch.onnx.export with dynamic batch and sequence axes, weights in an external file."""
    import onnx
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    # Two rows of different lengths, so the traced graph takes the masked-padding path.
    ids = torch.tensor([[101, 7592, 2045, 102, 0], [101, 7592, 2045, 2000, 102]])
    inputs = (ids, (ids != 0).long(), torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    traced = path.with_suffix(".traced")
    # The tracer's warnings are about branches that the two-row example input already settles.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled().eval(),
            inputs,
            str(traced),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes=axes | {"sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT well
        )
    graph = onnx.load(str(traced))
    onnx.save_model(graph, str(path), save_as_external_data=True, location=ONNX_DATA_FILE)
    traced.unlink()


def _manifest_entry(work_dir: Path, model_dir: Path, check_vector: np.ndarray) -> dict:
    import torch

    return {
        "format": EXPORT_FORMAT,
        "opset": OPSET,
        "source": {"model": MODEL_NAME} | source_identity(model_dir),
        "sha256": {name: file_sha256(work_dir / name) for name in (ONNX_FILE, ONNX_DATA_FILE)},
        # A rename keeps both, so they still hold once the files are moved into the index.
        "files": {name: _file_identity(work_dir / name) for name in (ONNX_FILE, ONNX_DATA_FILE)},
        "check_text": CHECK_TEXT,
        "check_vector": [round(float(x), 8) for x in check_vector],
        "torch": torch.__version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }

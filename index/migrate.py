"""Copy one index into another, whatever their backends: `citeqa index export`.

Documents travel with their sentences' vectors (`Index.export`), so moving
an index to Milvus, or back, never runs the embedder.
"""

from __future__ import annotations

from citeqa.index.base import Index
from citeqa.models.runtime.progress import bar


def copy_into(source: Index, target: Index) -> int:
    """Upsert every document of `source` into `target`, saving after each batch so a
    large copy holds one batch in memory; returns how many documents were copied."""
    copied = 0
    progress = bar(total=source.stats().documents, unit="doc", desc="export")
    for documents, chunks in source.export():
        target.delete([d.doc_id for d in documents])
        target.add(documents, chunks)
        target.save()
        copied += len(documents)
        progress.update(len(documents))
    progress.close()
    return copied

"""Visual similarity search over pin images: descriptors, embedding spaces, faiss, fusion, eval.

Offline: the built-in descriptor needs no learned weights; other embeddings are imported or
computed by an ONNX image model (:mod:`workbench.engine.visual.onnx`). The use cases on a stored
dataset are in :mod:`workbench.services.visual`. Typical use of the library::

    from workbench.engine import visual
    report = visual.update_builtin(cache_dir, [(pin_id, image_path), ...], reporter=reporter)
    space = visual.open_space(cache_dir, "builtin")
    visual.search_pin(space, "p1", k=20, near_duplicate=visual.NEAR_DUPLICATE)
    visual.search_crop(space, (x, y, w, h), pin_id="p1")
"""

from workbench.engine.visual.descriptors import REGION_BOXES, DescriptorConfig
from workbench.engine.visual.embedders import BuiltinEmbedder, Embedder
from workbench.engine.visual.errors import (
    CropError,
    EmbeddingImportError,
    ImageDecodeError,
    VisualInputError,
)
from workbench.engine.visual.evaluation import visual_eval
from workbench.engine.visual.fusion import reciprocal_rank_fusion, weighted_score_fusion
from workbench.engine.visual.images import load_rgb, to_rgb
from workbench.engine.visual.imports import import_embeddings, read_embeddings, read_ids
from workbench.engine.visual.index import IndexInfo, build_index, measure_recall, set_threads
from workbench.engine.visual.pca import Whitening, fit_whitening, l2_normalise
from workbench.engine.visual.search import (
    NEAR_DUPLICATE,
    SearchResult,
    VisualSpace,
    open_space,
    search_crop,
    search_image,
    search_pin,
    search_vector,
)
from workbench.engine.visual.storage import (
    BUILTIN,
    BuildReport,
    list_spaces,
    remove_space,
    update_builtin,
    write_space,
)

__all__ = [
    "BUILTIN",
    "NEAR_DUPLICATE",
    "REGION_BOXES",
    "BuildReport",
    "BuiltinEmbedder",
    "CropError",
    "DescriptorConfig",
    "Embedder",
    "EmbeddingImportError",
    "ImageDecodeError",
    "IndexInfo",
    "SearchResult",
    "VisualInputError",
    "VisualSpace",
    "Whitening",
    "build_index",
    "fit_whitening",
    "import_embeddings",
    "l2_normalise",
    "list_spaces",
    "load_rgb",
    "measure_recall",
    "open_space",
    "read_embeddings",
    "read_ids",
    "reciprocal_rank_fusion",
    "remove_space",
    "search_crop",
    "search_image",
    "search_pin",
    "search_vector",
    "set_threads",
    "to_rgb",
    "update_builtin",
    "visual_eval",
    "weighted_score_fusion",
    "write_space",
]

"""The model registry: model packages (flavors, signatures, hashes), versions, aliases,
approvals and lineage.

Example:
    >>> import loopml
    >>> with loopml.start_run(experiment="churn"):
    ...     version = loopml.log_model(clf, "churn", input_example=X.head())
    >>> loopml.ModelRegistry().set_alias("churn", "champion", version.version)
    >>> loopml.load_model("churn@champion").predict(X)
"""

from loopml.registry._lineage import INPUT_DATASET_TAG, build_lineage, lineage_to_dict
from loopml.registry._model import PackagedModel
from loopml.registry._package import MANIFEST_NAME, Manifest, PackageFile
from loopml.registry._registry import INPUT_MODEL_TAG, ModelRegistry
from loopml.registry._signature import ColumnSpec, Signature, TensorSpec, infer_signature
from loopml.registry._uris import ModelRef, parse_model_uri
from loopml.registry.fluent import load_model, log_model, set_alias

__all__ = [
    "INPUT_DATASET_TAG",
    "INPUT_MODEL_TAG",
    "MANIFEST_NAME",
    "ColumnSpec",
    "Manifest",
    "ModelRef",
    "ModelRegistry",
    "PackageFile",
    "PackagedModel",
    "Signature",
    "TensorSpec",
    "build_lineage",
    "infer_signature",
    "lineage_to_dict",
    "load_model",
    "log_model",
    "parse_model_uri",
    "set_alias",
]

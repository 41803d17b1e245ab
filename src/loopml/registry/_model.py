"""The loaded model users call: signature enforcement in front of the flavor's predict."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.registry._examples import read_example
from loopml.registry._flavors import ArrayCall, Flavor
from loopml.registry._signature import Signature
from loopml.registry._tabular import frame_from_input, is_polars_frame, polars_to_pandas

if TYPE_CHECKING:
    from loopml.registry._package import Manifest

__all__ = ["PackagedModel"]


class PackagedModel:
    """A model loaded from a package, as returned by ``loopml.load_model``.

    ``predict`` checks its input against the signature (converting where safe) and calls
    the underlying model; the work per call is the signature's fast path plus the model.
    A scikit-learn estimator fit on a DataFrame of numeric columns is handed a float
    array in its fit order instead (see :class:`~loopml.registry._flavors.ArrayCall`):
    the same predictions, without scikit-learn's costly per-call DataFrame checks.

    Attributes:
        flavor: the flavor's name (``"sklearn"``, ``"xgboost"``, ...).
        signature: the model's signature, or None when none was recorded.
        manifest: the package manifest.
        raw: the underlying model object, for anything ``predict`` does not cover.
        source: where the model was loaded from (a URI), if the caller said.
        name: the registered model's name, if any.
        version: the registered version, if any.

    Example:
        >>> model = loopml.load_model("models:/churn@champion")
        >>> model.predict({"age": 41, "plan": "pro"})
        array([1])
    """

    def __init__(
        self,
        raw: object,
        manifest: Manifest,
        flavor: Flavor,
        *,
        example_json: str | None = None,
        source: str | None = None,
        name: str | None = None,
        version: int | None = None,
    ) -> None:
        self.raw = raw
        self.manifest = manifest
        self.flavor = flavor.name
        self.signature: Signature | None = manifest.signature
        self.source = source
        self.name = name
        self.version = version
        self._flavor = flavor
        self._example_json = example_json
        # Resolved once: predict is the hot path.
        self._predict: Callable[[Any, Any], Any] = flavor.predict
        call = self._array_call()
        self._callee = raw if call is None else call.model
        want = flavor.wants(raw) if call is None else "array"
        self._prepare = self._preparer(want, None if call is None else call.order)

    def predict(self, data: object) -> np.ndarray[Any, Any]:
        """Predict on ``data`` after checking it against the signature.

        Args:
            data: a pandas or polars DataFrame, a dict of columns, a list of records, one
                record (a dict of values) or a numpy array.

        Returns:
            The model's predictions as a numpy array.

        Raises:
            InvalidInput: ``data`` does not fit the signature; the message names the column.
        """
        return np.asarray(self._predict(self._callee, self._prepare(data)))

    def predict_proba(self, data: object) -> np.ndarray[Any, Any]:
        """Class probabilities for ``data``, for classifiers that provide them.

        Raises:
            InvalidInput: the model has no ``predict_proba``, or ``data`` does not fit the
                signature.
        """
        if not self._flavor.has_predict_proba(self.raw):
            raise InvalidInput(
                f"Model {self._label()} (flavor {self.flavor!r}) has no predict_proba; use "
                "predict, or register a classifier that provides probabilities."
            )
        return np.asarray(self._flavor.predict_proba(self._callee, self._prepare(data)))

    def input_example(self) -> pd.DataFrame | np.ndarray[Any, Any] | None:
        """The input example stored with the model (a DataFrame or an array), or None."""
        return None if self._example_json is None else read_example(self._example_json)

    def __repr__(self) -> str:
        inputs = "unknown"
        if self.signature is not None:
            spec = self.signature.inputs
            inputs = f"{len(spec)} columns" if isinstance(spec, tuple) else f"tensor {spec.dtype}"
        where = f" source={self.source!r}," if self.source else ""
        return f"<PackagedModel flavor={self.flavor!r},{where} inputs={inputs}>"

    def _label(self) -> str:
        if self.name is not None:
            return f"{self.name!r}" + (f" version {self.version}" if self.version else "")
        return repr(self.source) if self.source else "package"

    def _array_call(self) -> ArrayCall | None:
        signature = self.signature
        if signature is None or not isinstance(signature.inputs, tuple):
            return None
        return self._flavor.array_call(self.raw, signature.inputs)

    def _preparer(self, want: Any, order: tuple[int, ...] | None) -> Callable[[object], Any]:
        signature = self.signature
        if signature is None:
            return _without_signature
        if order is None:

            def prepare(data: object) -> Any:
                return signature.prepare(data, want=want)

            return prepare
        columns = list(order)

        def reorder(data: object) -> Any:
            return signature.prepare(data, want=want)[:, columns]

        return reorder


def _without_signature(data: object) -> Any:
    """Input for a model without a signature: arrays and pandas frames as they are."""
    if isinstance(data, np.ndarray | pd.DataFrame):
        return data
    if is_polars_frame(data):
        return polars_to_pandas(data)
    return frame_from_input(data)

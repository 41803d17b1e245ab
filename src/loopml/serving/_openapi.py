"""What ``/docs`` says about ``POST /predict`` and ``POST /feedback`` (bodies, answers,
parameters), and about the answers of ``/ready`` and ``/metrics``.

The POST routes read their bodies themselves (orjson, under a size limit), so FastAPI
cannot derive the schemas from parameters; they are written out here, in OpenAPI 3.1
terms.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import PlainTextResponse

__all__ = ["FEEDBACK_DOCS", "METRICS_DOCS", "PREDICT_DOCS", "READY_DOCS"]

_VALUE = {"description": "A field value: number, text, boolean or null."}
_RECORD: dict[str, Any] = {
    "type": "object",
    "title": "Record",
    "description": "One record: the model's input fields by name.",
    "additionalProperties": _VALUE,
    "example": {"age": 41, "income": 52.5},
}
_BODY: dict[str, Any] = {
    "title": "PredictBody",
    "oneOf": [
        _RECORD,
        {"type": "array", "title": "Records", "items": _RECORD, "minItems": 1},
        {
            "type": "object",
            "title": "WrappedRecords",
            "required": ["records"],
            "additionalProperties": False,
            "properties": {"records": {"type": "array", "items": _RECORD, "minItems": 1}},
        },
        {
            "type": "object",
            "title": "Columns",
            "required": ["columns"],
            "additionalProperties": False,
            "properties": {
                "columns": {
                    "type": "object",
                    "description": "One list of values per field, all of the same length.",
                    "additionalProperties": {"type": "array", "items": _VALUE},
                }
            },
        },
    ],
}
_ANSWER: dict[str, Any] = {
    "type": "object",
    "title": "PredictAnswer",
    "required": ["request_id", "model", "version", "versions", "predictions"],
    "properties": {
        "request_id": {"type": "string", "description": "Echoed in the X-Request-Id header."},
        "model": {"type": "string", "description": "The registered model's name."},
        "version": {
            "type": ["integer", "null"],
            "description": "The version that answered every record; null when a batch was "
            "split over several versions.",
        },
        "versions": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "The version that answered each record, in request order.",
        },
        "predictions": {"type": "array", "description": "One prediction per record, in order."},
        "probabilities": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "number"}},
            "description": "Class probabilities per record; only with ?proba=true.",
        },
    },
    "example": {
        "request_id": "5f0c3a9e2b7d4e1f8a6b9c0d1e2f3a4b",
        "model": "churn",
        "version": 3,
        "versions": [3],
        "predictions": [1],
    },
}
_ERROR: dict[str, Any] = {
    "type": "object",
    "title": "ErrorAnswer",
    "required": ["error"],
    "properties": {
        "request_id": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string", "example": "InvalidInput"},
                "message": {"type": "string"},
                "errors": {
                    "type": "array",
                    "description": "Every problem of every record (422 only).",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": ["integer", "null"]},
                            "field": {"type": ["string", "null"]},
                            "kind": {
                                "enum": ["missing", "unexpected", "null", "type", "range", "record"]
                            },
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


PREDICT_DOCS: dict[str, Any] = {
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BODY}},
        },
        "parameters": [
            {
                "name": "proba",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean", "default": False},
                "description": "Also return class probabilities (models with predict_proba).",
            },
            {
                "name": "X-Request-Id",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"},
                "description": "Your id for the request; a new one is made when absent.",
            },
        ],
    },
    "responses": {
        200: {
            "description": "The predictions, in request order.",
            "content": {"application/json": {"schema": _ANSWER}},
        },
        400: _error("The body is not JSON."),
        413: _error("The body is larger than serving_max_body_bytes."),
        422: _error("The body has another shape, or records that do not fit the model."),
        503: _error("No model is loaded yet."),
    },
}


_MAX_ROW = 2**31 - 1
_LABEL: dict[str, Any] = {
    "type": "object",
    "title": "Label",
    "required": ["request_id", "label"],
    "additionalProperties": False,
    "properties": {
        "request_id": {
            "type": "string",
            "pattern": "\\S",
            "description": "The request_id of the answered prediction.",
        },
        "label": {
            "type": ["number", "boolean", "string"],
            "description": "The ground truth: a number, a boolean or text.",
        },
        "row": {
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": _MAX_ROW,
            "description": "The record of a batch request it is for; left out (or null), "
            "the label is for every record of the request.",
        },
    },
    "example": {"request_id": "5f0c3a9e2b7d4e1f8a6b9c0d1e2f3a4b", "label": 1},
}

FEEDBACK_DOCS: dict[str, Any] = {
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "title": "FeedbackBody",
                        "oneOf": [
                            {
                                "type": "object",
                                "title": "Labels",
                                "required": ["labels"],
                                "additionalProperties": False,
                                "properties": {"labels": {"type": "array", "items": _LABEL}},
                            },
                            _LABEL,
                        ],
                    }
                }
            },
        }
    },
    "responses": {
        200: {
            "description": "How many labels were recorded.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "title": "FeedbackAnswer",
                        "required": ["logged"],
                        "properties": {"logged": {"type": "integer", "minimum": 0}},
                        "example": {"logged": 2},
                    }
                }
            },
        },
        400: _error("The body is not JSON."),
        413: _error("The body is larger than serving_max_body_bytes."),
        422: _error("The body has another shape, or a label is malformed (none is recorded)."),
        503: _error("No model is loaded yet, or the store cannot be written now."),
    },
}

READY_DOCS: dict[str, Any] = {
    "responses": {
        200: {
            "description": "A model is loaded and serving.",
            "content": {"application/json": {"example": {"ready": True}}},
        },
        503: {
            "description": "No model is loaded yet; ``reason`` says why.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["ready", "reason"],
                        "properties": {"ready": {"const": False}, "reason": {"type": "string"}},
                    }
                }
            },
        },
    }
}

METRICS_DOCS: dict[str, Any] = {
    "response_class": PlainTextResponse,
    "responses": {
        200: {
            "description": "The counters in Prometheus' text format (version 0.0.4).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
}

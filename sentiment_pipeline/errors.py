"""The one base class for bad input that a user can fix (params, data, sources)."""


class PipelineInputError(ValueError):
    """Bad params, data or a dataset/model reference: reported as one line, no traceback."""


class DataError(PipelineInputError):
    """The data does not have the layout, labels or size the pipeline needs."""

"""User-facing errors. The CLI turns each into one line on stderr and exit code 2; the app
shows its message. Anything else escaping is a bug, not a user error."""


class VAEError(Exception):
    """Base class for errors caused by user input (data, files, settings)."""


class ConfigError(VAEError, ValueError):
    """A configuration value is missing, of the wrong type or out of bounds."""


class DataNotFoundError(VAEError, FileNotFoundError):
    """The dataset files could not be found where the setting points."""


class CheckpointError(VAEError):
    """A checkpoint folder or upload is missing, corrupt, hostile or inconsistent."""


class NoEncoderError(VAEError):
    """A foreign model without encoder.onnx was asked to encode images."""


class ImageError(VAEError, ValueError):
    """An uploaded file is not a usable image (or holds no digit)."""


class TrainingDiverged(VAEError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingBusy(VAEError, RuntimeError):
    """Another training run already holds this server's training lock."""


class ExportError(VAEError):
    """A model's decoder holds a layer the browser export cannot express."""

"""How the models run in this process: threads, and the ONNX Runtime sessions exported
from the local weights."""

"""How models run, decided once per process: threads, the offline flags, model paths,
cache folders and ONNX export. torch and transformers' models load only to train or export.
"""

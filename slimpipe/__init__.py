"""slimpipe: sensitivity-based channel pruning of PaddlePaddle models as Kubeflow pipeline stages."""

# Pillow's C module must load before paddle: paddle 2.6 exports zlib symbols that, once loaded first,
# break PNG decoding in Pillow ("codec configuration error"). Importing slimpipe first fixes the order.
from PIL import Image as _pil_image  # noqa: F401

__version__ = "0.1.0"
